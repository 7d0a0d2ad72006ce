// Loop device calls, each settling a Promise. Those that change a binding run on the thread pool: they
// wait for the device's queue to drain and for an RCU grace period. Those that only read (a free
// number, a binding's status) run on the calling thread (see SysTask::Now). Policy (which device, retries after EBUSY, the
// fallback from direct I/O) lives in src/satellite/sys/loop.ts.
#include "loop/loop.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>

#include <string>

#include "common/fd.h"
#include "common/napi_util.h"

namespace blockyard {
namespace {

constexpr const char* kLoopControl = "/dev/loop-control";
// Loop numbers are minors (20 bits); LOOP_CTL_ADD/REMOVE take an int.
constexpr double kMaxLoopNumber = 1048575.0;

bool OpenControl(Fd* ctl, SysFailure& f) {
  ctl->Reset(open(kLoopControl, O_RDWR | O_CLOEXEC));
  return ctl->Valid() || f.Fail("open", kLoopControl);
}

// loopCtlGetFree(): Promise<number>. The number of an unbound loop device, created if none is free.
// Nothing reserves it: another process may bind it before we do (LOOP_CONFIGURE then fails EBUSY).
// On the calling thread: a lookup under the loop driver's control mutex.
Napi::Value LoopCtlGetFree(const Napi::CallbackInfo& info) {
  return SysTask<int>::Now(
      info.Env(),
      [](int& nr, SysFailure& f) {
        Fd ctl;
        if (!OpenControl(&ctl, f)) return false;
        nr = ioctl(ctl.Get(), LOOP_CTL_GET_FREE);
        return nr >= 0 || f.Fail("ioctl(LOOP_CTL_GET_FREE)", kLoopControl);
      },
      [](Napi::Env env, int& nr) -> Napi::Value { return Napi::Number::New(env, nr); });
}

// loopCtlAdd(nr): Promise<number>. Creates /dev/loop<nr> (EEXIST if it exists).
Napi::Value LoopCtlAdd(const Napi::CallbackInfo& info) {
  uint64_t nr;
  if (!ArgUint(info, 0, "nr", kMaxLoopNumber, &nr)) return info.Env().Undefined();
  return SysTask<int>::Start(
      info.Env(), "loopCtlAdd",
      [nr](int& out, SysFailure& f) {
        Fd ctl;
        if (!OpenControl(&ctl, f)) return false;
        out = ioctl(ctl.Get(), LOOP_CTL_ADD, static_cast<int>(nr));
        return out >= 0 || f.Fail("ioctl(LOOP_CTL_ADD)", kLoopControl);
      },
      [](Napi::Env env, int& out) -> Napi::Value { return Napi::Number::New(env, out); });
}

// loopCtlRemove(nr): Promise<void>. Deletes an unbound /dev/loop<nr> (EBUSY while bound or open).
Napi::Value LoopCtlRemove(const Napi::CallbackInfo& info) {
  uint64_t nr;
  if (!ArgUint(info, 0, "nr", kMaxLoopNumber, &nr)) return info.Env().Undefined();
  return SysTask<Nothing>::Start(
      info.Env(), "loopCtlRemove",
      [nr](Nothing&, SysFailure& f) {
        Fd ctl;
        if (!OpenControl(&ctl, f)) return false;
        return ioctl(ctl.Get(), LOOP_CTL_REMOVE, static_cast<int>(nr)) >= 0 ||
               f.Fail("ioctl(LOOP_CTL_REMOVE)", kLoopControl);
      },
      [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
}

struct ConfigureArgs {
  std::string device;
  std::string backing;
  uint32_t flags;
  uint64_t sizeLimit;
  std::string fileName;
};

// loopConfigure(device, backingFile, flags, sizeLimit, fileName): Promise<void>.
// Binds backingFile to the loop device in one LOOP_CONFIGURE (offset 0, the given LO_FLAGS_* and size
// limit, lo_file_name = fileName cut to 63 bytes). As systemd's loop-util.c does, the device is locked
// first with flock(LOCK_EX) on a second descriptor: udev and tools that follow the same convention
// (LOCK_SH while probing) keep off a device being set up, and closing that descriptor afterwards is
// what tells them it is ready. The lock is non-blocking: a held lock fails EWOULDBLOCK at once, for the
// caller to treat like EBUSY, instead of parking a pool thread behind someone else's lock.
Napi::Value LoopConfigure(const Napi::CallbackInfo& info) {
  ConfigureArgs a;
  uint64_t flags;
  if (!ArgString(info, 0, "device", &a.device) || !ArgString(info, 1, "backingFile", &a.backing) ||
      !ArgUint(info, 2, "flags", 0xffffffff, &flags) ||
      !ArgUint(info, 3, "sizeLimit", kMaxSafeInteger, &a.sizeLimit) ||
      !ArgString(info, 4, "fileName", &a.fileName)) {
    return info.Env().Undefined();
  }
  a.flags = static_cast<uint32_t>(flags);
  return SysTask<Nothing>::Start(
      info.Env(), "loopConfigure",
      [a](Nothing&, SysFailure& f) {
        const bool readOnly = (a.flags & LO_FLAGS_READ_ONLY) != 0;
        // The loop device must be open for writing, or the kernel makes the binding read-only.
        Fd dev(open(a.device.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
        if (!dev.Valid()) return f.Fail("open", a.device);
        Fd lock(open(a.device.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
        if (!lock.Valid()) return f.Fail("open", a.device);
        if (flock(lock.Get(), LOCK_EX | LOCK_NB) < 0) return f.Fail("flock", a.device);
        Fd backing(open(a.backing.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY));
        if (!backing.Valid()) return f.Fail("open", a.backing);

        struct loop_config config;
        memset(&config, 0, sizeof(config));
        config.fd = static_cast<__u32>(backing.Get());
        config.block_size = 0;  // the kernel's default (the backing device's logical block size with direct I/O)
        config.info.lo_offset = 0;
        config.info.lo_sizelimit = a.sizeLimit;
        config.info.lo_flags = a.flags;
        strncpy(reinterpret_cast<char*>(config.info.lo_file_name), a.fileName.c_str(), LO_NAME_SIZE - 1);
        if (ioctl(dev.Get(), LOOP_CONFIGURE, &config) < 0) return f.Fail("ioctl(LOOP_CONFIGURE)", a.device);
        // The driver holds its own reference to the backing file. Ours closes first, then the lock,
        // then the device: its close-after-write is the event udev re-probes on, with the lock gone.
        return true;
      },
      [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
}

// Runs one argument-less ioctl on a device opened read-only.
Napi::Value SimpleIoctl(const Napi::CallbackInfo& info, const char* name, const char* call, unsigned long request) {
  std::string device;
  if (!ArgString(info, 0, "device", &device)) return info.Env().Undefined();
  return SysTask<Nothing>::Start(
      info.Env(), name,
      [device, call, request](Nothing&, SysFailure& f) {
        Fd dev(open(device.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
        if (!dev.Valid()) return f.Fail("open", device);
        return ioctl(dev.Get(), request, 0) >= 0 || f.Fail(call, device);
      },
      [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
}

// loopClrFd(device): Promise<void>. Unbinds the backing file. ENXIO when nothing is bound, ENOTTY/EINVAL
// when `device` is no loop device. While other openers remain the kernel only sets LO_FLAGS_AUTOCLEAR
// and unbinds at their last close (Linux >= 5.11 returns 0 then).
Napi::Value LoopClrFd(const Napi::CallbackInfo& info) {
  return SimpleIoctl(info, "loopClrFd", "ioctl(LOOP_CLR_FD)", LOOP_CLR_FD);
}

// loopSetCapacity(device): Promise<void>. Re-reads the backing file's size (after it grew or shrank).
Napi::Value LoopSetCapacity(const Napi::CallbackInfo& info) {
  return SimpleIoctl(info, "loopSetCapacity", "ioctl(LOOP_SET_CAPACITY)", LOOP_SET_CAPACITY);
}

// loopGetStatus64(device): Promise<{device, inode, rdevice: bigint; offset, sizeLimit, number, flags:
// number; fileName: Buffer}>. device/inode identify the backing file (st_dev/st_ino); fileName is
// lo_file_name up to its NUL (what the binder wrote, at most 63 bytes). ENXIO when nothing is bound.
// On the calling thread, as blkGetSize64 (native/blk/blk.cc) and for the same reason.
Napi::Value LoopGetStatus64(const Napi::CallbackInfo& info) {
  std::string device;
  if (!ArgString(info, 0, "device", &device)) return info.Env().Undefined();
  return SysTask<struct loop_info64>::Now(
      info.Env(),
      [device](struct loop_info64& out, SysFailure& f) {
        Fd dev(open(device.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
        if (!dev.Valid()) return f.Fail("open", device);
        return ioctl(dev.Get(), LOOP_GET_STATUS64, &out) >= 0 || f.Fail("ioctl(LOOP_GET_STATUS64)", device);
      },
      [](Napi::Env env, struct loop_info64& s) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("device", Napi::BigInt::New(env, static_cast<uint64_t>(s.lo_device)));
        o.Set("inode", Napi::BigInt::New(env, static_cast<uint64_t>(s.lo_inode)));
        o.Set("rdevice", Napi::BigInt::New(env, static_cast<uint64_t>(s.lo_rdevice)));
        o.Set("offset", Napi::Number::New(env, static_cast<double>(s.lo_offset)));
        o.Set("sizeLimit", Napi::Number::New(env, static_cast<double>(s.lo_sizelimit)));
        o.Set("number", Napi::Number::New(env, s.lo_number));
        o.Set("flags", Napi::Number::New(env, s.lo_flags));
        size_t len = strnlen(reinterpret_cast<const char*>(s.lo_file_name), LO_NAME_SIZE);
        o.Set("fileName", Napi::Buffer<uint8_t>::Copy(env, s.lo_file_name, len));
        return o;
      });
}

}  // namespace

void RegisterLoop(Napi::Env env, Napi::Object exports) {
  exports.Set("loopCtlGetFree", Napi::Function::New(env, LoopCtlGetFree, "loopCtlGetFree"));
  exports.Set("loopCtlAdd", Napi::Function::New(env, LoopCtlAdd, "loopCtlAdd"));
  exports.Set("loopCtlRemove", Napi::Function::New(env, LoopCtlRemove, "loopCtlRemove"));
  exports.Set("loopConfigure", Napi::Function::New(env, LoopConfigure, "loopConfigure"));
  exports.Set("loopClrFd", Napi::Function::New(env, LoopClrFd, "loopClrFd"));
  exports.Set("loopSetCapacity", Napi::Function::New(env, LoopSetCapacity, "loopSetCapacity"));
  exports.Set("loopGetStatus64", Napi::Function::New(env, LoopGetStatus64, "loopGetStatus64"));
  // The flag bits loopConfigure takes and loopGetStatus64 returns, from <linux/loop.h>.
  Napi::Object flags = Napi::Object::New(env);
  flags.Set("READ_ONLY", Napi::Number::New(env, LO_FLAGS_READ_ONLY));
  flags.Set("AUTOCLEAR", Napi::Number::New(env, LO_FLAGS_AUTOCLEAR));
  flags.Set("PARTSCAN", Napi::Number::New(env, LO_FLAGS_PARTSCAN));
  flags.Set("DIRECT_IO", Napi::Number::New(env, LO_FLAGS_DIRECT_IO));
  exports.Set("LO_FLAGS", flags);
}

}  // namespace blockyard
