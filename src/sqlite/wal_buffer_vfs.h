// A VFS shim that coalesces the write connection's WAL writes.
//
// SQLite writes each WAL frame with two pwrite() calls (24-byte header, then the page). A batch of
// 64 appends writes 100-200 frames, and a syscall costs ~2-3 us on this VM, so a commit spent more
// time entering the kernel than in fdatasync. The shim buffers consecutive writes to a WAL file in
// memory and hands them to the OS in one pwrite() before any xSync, xRead, xTruncate,
// xFileSize, xFileControl or xClose of that file, and before any write that is not a plain append
// to the buffered range, so the file always reads back exactly what SQLite wrote.
//
// Safe only for a connection with synchronous=FULL: other connections read WAL frames through
// their own handles once the commit is published in the wal-index, and only with FULL does every
// commit call xSync (which flushes the buffer) before publishing. With POWERSAFE_OVERWRITE off,
// SQLite pads commits after the sync point without a final sync, so the shim buffers nothing for
// such files. Every other file (the database, its -shm, journals) passes straight through.
#ifndef IM_SQLITE_WAL_BUFFER_VFS_H_
#define IM_SQLITE_WAL_BUFFER_VFS_H_

namespace im::sqlite {

// Registers the shim over the default VFS on first use (not as the default) and returns its name,
// or nullptr when registration failed (callers then use the default VFS).
const char* WalBufferVfsName();

}  // namespace im::sqlite

#endif  // IM_SQLITE_WAL_BUFFER_VFS_H_
