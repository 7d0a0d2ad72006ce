// File calls for the FILE provider. fallocate(2) reserves a volume's blocks up front, which node's fs
// cannot do (it only truncates, leaving a sparse file). Policy — which files, which sizes — lives in
// src/satellite/sys/file.ts.
#include "file/file.h"

#include <fcntl.h>

#include <string>

#include "common/fd.h"
#include "common/napi_util.h"

namespace blockyard {
namespace {

struct FallocateArgs {
  std::string path;
  uint64_t offset;
  uint64_t length;
};

// fallocate(path, offset, length): Promise<void>. Opens the existing file `path` for writing and
// allocates bytes [offset, offset + length) with mode 0, extending the file when that range ends
// beyond it. Runs on the thread pool: allocating gigabytes takes a while on some filesystems.
// EOPNOTSUPP where the filesystem cannot allocate, ENOSPC when it is full.
Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  FallocateArgs a;
  if (!ArgString(info, 0, "path", &a.path)) return info.Env().Undefined();
  if (!ArgUint(info, 1, "offset", kMaxSafeInteger, &a.offset)) return info.Env().Undefined();
  if (!ArgUint(info, 2, "length", kMaxSafeInteger, &a.length)) return info.Env().Undefined();
  return SysTask<Nothing>::Start(
      info.Env(), "fallocate",
      [a](Nothing&, SysFailure& f) {
        Fd fd(open(a.path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
        if (!fd.Valid()) return f.Fail("open", a.path);
        int rc;
        do {
          rc = fallocate(fd.Get(), 0, static_cast<off_t>(a.offset), static_cast<off_t>(a.length));
        } while (rc < 0 && errno == EINTR);
        return rc == 0 || f.Fail("fallocate", a.path);
      },
      [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace

void RegisterFile(Napi::Env env, Napi::Object exports) {
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
}

}  // namespace blockyard
