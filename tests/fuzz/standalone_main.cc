// A main for the fuzz targets without libFuzzer, so the normal (GCC) build compiles them and the
// test suite runs each for a moment (tests/fuzz/CMakeLists.txt, docs/testing.md): it feeds every
// corpus file to LLVMFuzzerTestOneInput, then -runs=N inputs made by mutating corpus entries
// (byte flips, inserts, erases, dictionary tokens, splices) with a fixed seed, so a failure
// reproduces. It finds far less than libFuzzer (no coverage feedback, no sanitizers unless the
// build has them); scripts/fuzz.sh does the real fuzzing.
//
//   <target> [-runs=N] [-seed=S] [-max_len=L] [-dict=FILE] CORPUS_DIR_OR_FILE...
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// libFuzzer's dictionary format: one token a line, name="value" or "value", with \\, \" and \xNN.
std::vector<std::string> ReadDictionary(const std::string& path) {
  std::vector<std::string> tokens;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    size_t open = line.find('"');
    size_t close = line.rfind('"');
    if (line.empty() || line[0] == '#' || open == std::string::npos || close <= open) continue;
    std::string token;
    for (size_t i = open + 1; i < close; ++i) {
      if (line[i] == '\\' && i + 1 < close) {
        if (line[i + 1] == 'x' && i + 3 < close) {
          token += static_cast<char>(std::stoi(line.substr(i + 2, 2), nullptr, 16));
          i += 3;
        } else {
          token += line[++i];
        }
      } else {
        token += line[i];
      }
    }
    tokens.push_back(token);
  }
  return tokens;
}

std::string Mutate(const std::vector<std::string>& corpus, const std::vector<std::string>& dict, size_t max_len,
                   std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  std::string s = corpus.empty() ? std::string() : corpus[pick(corpus.size())];
  const int steps = 1 + static_cast<int>(pick(4));
  for (int step = 0; step < steps; ++step) {
    switch (pick(7)) {
      case 0:  // flip a bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1:  // replace a byte with an interesting one
        if (!s.empty()) {
          static const char kBytes[] = {'\0', '\xff', '\x80', '"', '\\', '%', '{', '}', '[', ']', ':', ',', '.',
                                        '=', '\n', '0', '9', '-', 'a', ' '};
          s[pick(s.size())] = kBytes[pick(sizeof kBytes)];
        }
        break;
      case 2:  // insert random bytes
        s.insert(pick(s.size() + 1), std::string(1 + pick(4), static_cast<char>(rng())));
        break;
      case 3:  // erase a range
        if (!s.empty()) {
          size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min<size_t>(8, s.size() - at)));
        }
        break;
      case 4:  // a dictionary token
        if (!dict.empty()) s.insert(pick(s.size() + 1), dict[pick(dict.size())]);
        break;
      case 5:  // splice with another entry
        if (!corpus.empty()) {
          const std::string& other = corpus[pick(corpus.size())];
          s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size() + 1));
        }
        break;
      default:  // duplicate a chunk
        if (!s.empty()) {
          size_t at = pick(s.size());
          s.insert(pick(s.size() + 1), s.substr(at, 1 + pick(16)));
        }
        break;
    }
  }
  if (s.size() > max_len) s.resize(max_len);
  return s;
}

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  long runs = 0;
  uint64_t seed = 1;
  size_t max_len = 4096;
  std::vector<std::string> dict;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("-runs=", 0) == 0) {
      runs = std::stol(a.substr(6));
    } else if (a.rfind("-seed=", 0) == 0) {
      seed = std::stoull(a.substr(6));
    } else if (a.rfind("-max_len=", 0) == 0) {
      max_len = std::stoul(a.substr(9));
    } else if (a.rfind("-dict=", 0) == 0) {
      dict = ReadDictionary(a.substr(6));
    } else if (a[0] == '-') {
      continue;  // other libFuzzer flags mean nothing here
    } else if (std::filesystem::is_directory(a)) {
      std::vector<std::filesystem::path> files;  // sorted: the same seed gives the same inputs
      for (const auto& e : std::filesystem::directory_iterator(a)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) corpus.push_back(ReadFile(f));
    } else {
      corpus.push_back(ReadFile(a));
    }
  }
  for (const auto& input : corpus) Run(input);
  std::mt19937_64 rng(seed);
  for (long i = 0; i < runs; ++i) Run(Mutate(corpus, dict, max_len, rng));
  std::cout << argv[0] << ": " << corpus.size() << " corpus inputs and " << runs << " mutations (seed " << seed
            << "), no failure\n";
  return 0;
}
