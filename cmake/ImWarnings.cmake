# im_set_warnings(target): the warning set every libim target compiles with.
function(im_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter
                                           $<$<BOOL:${IM_WERROR}>:-Werror>)
endfunction()
