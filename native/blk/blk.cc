#include "blk/blk.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <string>

#include "common/fd.h"
#include "common/napi_util.h"

namespace blockyard {
namespace {

// blkGetSize64(device): Promise<number>. The device's size in bytes (ioctl BLKGETSIZE64) — 0 for an
// unbound loop device. Run on the calling thread: the satellite asks after every change of a device,
// and opening a loop device only waits while that same device is being bound or unbound, which the
// satellite never does to a device it is asking about (one pass per resource at a time).
Napi::Value BlkGetSize64(const Napi::CallbackInfo& info) {
  std::string device;
  if (!ArgString(info, 0, "device", &device)) return info.Env().Undefined();
  return SysTask<uint64_t>::Now(
      info.Env(),
      [device](uint64_t& size, SysFailure& f) {
        Fd dev(open(device.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
        if (!dev.Valid()) return f.Fail("open", device);
        return ioctl(dev.Get(), BLKGETSIZE64, &size) >= 0 || f.Fail("ioctl(BLKGETSIZE64)", device);
      },
      // Sizes stay exact as doubles up to 8 PiB.
      [](Napi::Env env, uint64_t& size) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(size)); });
}

}  // namespace

void RegisterBlk(Napi::Env env, Napi::Object exports) {
  exports.Set("blkGetSize64", Napi::Function::New(env, BlkGetSize64, "blkGetSize64"));
}

}  // namespace blockyard
