#include "sqlite/wal_buffer_vfs.h"

#include <sqlite3.h>

#include <cstring>

namespace im::sqlite {
namespace {

constexpr const char* kName = "im-walbuf";
// Large enough for a whole batch's frames in the common case; larger writes go through in pieces.
constexpr size_t kBufferBytes = size_t{4} << 20;
constexpr size_t kMaxWrite = 124 * 1024;

struct WalFile {
  sqlite3_file base;    // pMethods = &kWalMethods
  sqlite3_file* real;   // the root VFS's file, placed right after this struct
  char* buffer;         // kBufferBytes, allocated on the first buffered write
  sqlite3_int64 start;  // file offset of buffer[0]
  size_t length;        // bytes buffered
  bool buffering;       // false: every call goes straight through
};

sqlite3_vfs* Root(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
WalFile* Wal(sqlite3_file* file) { return reinterpret_cast<WalFile*>(file); }
const sqlite3_io_methods* RealMethods(sqlite3_file* file) { return Wal(file)->real->pMethods; }

int Flush(WalFile* f) {
  int rc = SQLITE_OK;
  // The unix VFS writes at most 128 KiB - 1 per call (it masks the size), so flush in chunks.
  for (size_t done = 0; done < f->length && rc == SQLITE_OK; done += kMaxWrite) {
    size_t n = f->length - done < kMaxWrite ? f->length - done : kMaxWrite;
    rc = f->real->pMethods->xWrite(f->real, f->buffer + done, static_cast<int>(n),
                                   f->start + static_cast<sqlite3_int64>(done));
  }
  f->length = 0;  // on failure SQLite sees the error (from xSync/xRead/…) and abandons the write
  return rc;
}

int WalClose(sqlite3_file* file) {
  WalFile* f = Wal(file);
  int rc = Flush(f);
  sqlite3_free(f->buffer);
  f->buffer = nullptr;
  int close_rc = f->real->pMethods->xClose(f->real);
  return rc != SQLITE_OK ? rc : close_rc;
}

int WalRead(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  WalFile* f = Wal(file);
  if (f->length > 0 && offset < f->start + static_cast<sqlite3_int64>(f->length) && offset + amount > f->start) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

int WalWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* f = Wal(file);
  const auto n = static_cast<size_t>(amount);
  if (f->length > 0 && offset == f->start + static_cast<sqlite3_int64>(f->length) && f->length + n <= kBufferBytes) {
    std::memcpy(f->buffer + f->length, data, n);
    f->length += n;
    return SQLITE_OK;
  }
  // Not an append to the buffered range (a rewind, a rewrite of a frame, a full buffer): write
  // what is buffered first so the file sees the writes in SQLite's order.
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  if (f->buffering && f->buffer == nullptr) f->buffer = static_cast<char*>(sqlite3_malloc64(kBufferBytes));
  if (!f->buffering || f->buffer == nullptr || n > kMaxWrite) {
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
  std::memcpy(f->buffer, data, n);
  f->start = offset;
  f->length = n;
  return SQLITE_OK;
}

int WalTruncate(sqlite3_file* file, sqlite3_int64 size) {
  if (int rc = Flush(Wal(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xTruncate(Wal(file)->real, size);
}

int WalSync(sqlite3_file* file, int flags) {
  if (int rc = Flush(Wal(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xSync(Wal(file)->real, flags);
}

int WalFileSize(sqlite3_file* file, sqlite3_int64* size) {
  if (int rc = Flush(Wal(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xFileSize(Wal(file)->real, size);
}

int WalLock(sqlite3_file* file, int lock) { return RealMethods(file)->xLock(Wal(file)->real, lock); }
int WalUnlock(sqlite3_file* file, int lock) { return RealMethods(file)->xUnlock(Wal(file)->real, lock); }
int WalCheckReservedLock(sqlite3_file* file, int* out) {
  return RealMethods(file)->xCheckReservedLock(Wal(file)->real, out);
}

int WalFileControl(sqlite3_file* file, int op, void* arg) {
  if (int rc = Flush(Wal(file)); rc != SQLITE_OK) return rc;
  return RealMethods(file)->xFileControl(Wal(file)->real, op, arg);
}

int WalSectorSize(sqlite3_file* file) { return RealMethods(file)->xSectorSize(Wal(file)->real); }
int WalDeviceCharacteristics(sqlite3_file* file) { return RealMethods(file)->xDeviceCharacteristics(Wal(file)->real); }

// A WAL file has no shared memory or memory map of its own; forward for completeness.
int WalShmMap(sqlite3_file* file, int page, int size, int extend, void volatile** out) {
  const sqlite3_io_methods* m = RealMethods(file);
  return m->iVersion >= 2 ? m->xShmMap(Wal(file)->real, page, size, extend, out) : SQLITE_IOERR;
}
int WalShmLock(sqlite3_file* file, int offset, int n, int flags) {
  const sqlite3_io_methods* m = RealMethods(file);
  return m->iVersion >= 2 ? m->xShmLock(Wal(file)->real, offset, n, flags) : SQLITE_IOERR;
}
void WalShmBarrier(sqlite3_file* file) {
  const sqlite3_io_methods* m = RealMethods(file);
  if (m->iVersion >= 2) m->xShmBarrier(Wal(file)->real);
}
int WalShmUnmap(sqlite3_file* file, int delete_flag) {
  const sqlite3_io_methods* m = RealMethods(file);
  return m->iVersion >= 2 ? m->xShmUnmap(Wal(file)->real, delete_flag) : SQLITE_OK;
}
int WalFetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  const sqlite3_io_methods* m = RealMethods(file);
  *out = nullptr;
  if (m->iVersion < 3) return SQLITE_OK;
  if (int rc = Flush(Wal(file)); rc != SQLITE_OK) return rc;
  return m->xFetch(Wal(file)->real, offset, amount, out);
}
int WalUnfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  const sqlite3_io_methods* m = RealMethods(file);
  return m->iVersion >= 3 ? m->xUnfetch(Wal(file)->real, offset, p) : SQLITE_OK;
}

const sqlite3_io_methods kWalMethods = {
    3,
    WalClose,
    WalRead,
    WalWrite,
    WalTruncate,
    WalSync,
    WalFileSize,
    WalLock,
    WalUnlock,
    WalCheckReservedLock,
    WalFileControl,
    WalSectorSize,
    WalDeviceCharacteristics,
    WalShmMap,
    WalShmLock,
    WalShmBarrier,
    WalShmUnmap,
    WalFetch,
    WalUnfetch,
};

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* root = Root(vfs);
  // Anything but a WAL: the root's file occupies our slot and SQLite calls it directly.
  if ((flags & SQLITE_OPEN_WAL) == 0) return root->xOpen(root, name, file, flags, out_flags);
  WalFile* f = Wal(file);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->buffer = nullptr;
  f->start = 0;
  f->length = 0;
  f->buffering = false;
  int rc = root->xOpen(root, name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) {
    f->base.pMethods = nullptr;
    return rc;
  }
  // Without POWERSAFE_OVERWRITE SQLite pads commits past the sync point with no final sync.
  f->buffering = (f->real->pMethods->xDeviceCharacteristics(f->real) & SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0;
  f->base.pMethods = &kWalMethods;
  return rc;
}

// Everything else forwards to the root VFS.
int Delete(sqlite3_vfs* v, const char* name, int sync_dir) { return Root(v)->xDelete(Root(v), name, sync_dir); }
int Access(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return Root(v)->xAccess(Root(v), name, flags, out);
}
int FullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return Root(v)->xFullPathname(Root(v), name, n, out);
}
void* DlOpen(sqlite3_vfs* v, const char* name) { return Root(v)->xDlOpen(Root(v), name); }
void DlError(sqlite3_vfs* v, int n, char* out) { Root(v)->xDlError(Root(v), n, out); }
void (*DlSym(sqlite3_vfs* v, void* handle, const char* symbol))(void) {
  return Root(v)->xDlSym(Root(v), handle, symbol);
}
void DlClose(sqlite3_vfs* v, void* handle) { Root(v)->xDlClose(Root(v), handle); }
int Randomness(sqlite3_vfs* v, int n, char* out) { return Root(v)->xRandomness(Root(v), n, out); }
int Sleep(sqlite3_vfs* v, int micros) { return Root(v)->xSleep(Root(v), micros); }
int CurrentTime(sqlite3_vfs* v, double* out) { return Root(v)->xCurrentTime(Root(v), out); }
int GetLastError(sqlite3_vfs* v, int n, char* out) { return Root(v)->xGetLastError(Root(v), n, out); }
int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) { return Root(v)->xCurrentTimeInt64(Root(v), out); }

const char* Register() {
  sqlite3_vfs* root = sqlite3_vfs_find(nullptr);
  if (root == nullptr || root->iVersion < 2) return nullptr;
  static sqlite3_vfs vfs = {};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + root->szOsFile;
  vfs.mxPathname = root->mxPathname;
  vfs.zName = kName;
  vfs.pAppData = root;
  vfs.xOpen = Open;
  vfs.xDelete = Delete;
  vfs.xAccess = Access;
  vfs.xFullPathname = FullPathname;
  vfs.xDlOpen = DlOpen;
  vfs.xDlError = DlError;
  vfs.xDlSym = DlSym;
  vfs.xDlClose = DlClose;
  vfs.xRandomness = Randomness;
  vfs.xSleep = Sleep;
  vfs.xCurrentTime = CurrentTime;
  vfs.xGetLastError = GetLastError;
  vfs.xCurrentTimeInt64 = CurrentTimeInt64;
  return sqlite3_vfs_register(&vfs, /*makeDflt=*/0) == SQLITE_OK ? kName : nullptr;
}

}  // namespace

const char* WalBufferVfsName() {
  static const char* name = Register();  // thread-safe one-time registration
  return name;
}

}  // namespace im::sqlite
