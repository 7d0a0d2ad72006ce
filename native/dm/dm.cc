// Device-mapper ioctls on /dev/mapper/control, each settling a Promise with the kernel's reply. Every
// export takes one Buffer — a packed `struct dm_ioctl` followed by its payload, its data_size equal to
// the Buffer's length — and resolves with a copy of that buffer as the kernel left it. Packing and
// unpacking, the retry with a bigger buffer when the kernel sets DM_BUFFER_FULL_FLAG, name checks and
// everything else are TypeScript (src/satellite/sys/dm.ts).
#include "dm/dm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/napi_util.h"

namespace blockyard {
namespace {

constexpr const char* kControl = "/dev/mapper/control";
// The largest reply asked for: the kernel allocates a buffer of data_size for every call (libdm stops
// doubling at a similar size); a table or a device list larger than this is a caller's bug.
constexpr size_t kMaxIoctlBytes = 64u << 20;

struct DmCommand {
  const char* exportName;
  const char* call;
  unsigned long request;
  // On the thread pool: calls that wait for I/O (suspend flushes, a thin pool's or a cache's status
  // and messages commit their metadata, remove waits for an RCU grace period, a table load opens the
  // underlying devices). The others only read in-memory state under dm's locks and run here.
  bool pool;
  // Flags in the request that make the call read in-memory state only, so it runs here after all:
  // a table (DM_STATUS_TABLE_FLAG) or a status without the metadata commit (DM_NOFLUSH_FLAG: the
  // thin-pool and cache targets commit only without it).
  uint32_t readOnlyFlags;
};

const DmCommand kCommands[] = {
    {"dmVersion", "ioctl(DM_VERSION)", DM_VERSION, false, 0},
    {"dmListDevices", "ioctl(DM_LIST_DEVICES)", DM_LIST_DEVICES, false, 0},
    {"dmListVersions", "ioctl(DM_LIST_VERSIONS)", DM_LIST_VERSIONS, false, 0},
    {"dmDevStatus", "ioctl(DM_DEV_STATUS)", DM_DEV_STATUS, false, 0},
    {"dmDevCreate", "ioctl(DM_DEV_CREATE)", DM_DEV_CREATE, true, 0},
    {"dmDevRemove", "ioctl(DM_DEV_REMOVE)", DM_DEV_REMOVE, true, 0},
    {"dmDevSuspend", "ioctl(DM_DEV_SUSPEND)", DM_DEV_SUSPEND, true, 0},
    {"dmTableLoad", "ioctl(DM_TABLE_LOAD)", DM_TABLE_LOAD, true, 0},
    {"dmTableStatus", "ioctl(DM_TABLE_STATUS)", DM_TABLE_STATUS, true, DM_STATUS_TABLE_FLAG | DM_NOFLUSH_FLAG},
    {"dmTargetMsg", "ioctl(DM_TARGET_MSG)", DM_TARGET_MSG, true, 0},
};

// One descriptor for the process, opened on first use and kept (as libdm keeps its _control_fd):
// every call would otherwise pay an open and a close. A failed open is not remembered, so loading
// dm_mod later makes the next call work. dm ioctls keep no per-descriptor state that we use, so
// concurrent calls on the thread pool share it.
std::mutex controlMutex;
int controlFd = -1;

bool Control(int* fd, SysFailure& f) {
  std::lock_guard<std::mutex> lock(controlMutex);
  if (controlFd < 0) {
    controlFd = open(kControl, O_RDWR | O_CLOEXEC);
    if (controlFd < 0) return f.Fail("open", kControl);
  }
  *fd = controlFd;
  return true;
}

// dmXxx(buffer): Promise<Buffer>. SysError target: the device name in the header, or the control node
// for commands that name none.
Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DmCommand* cmd = static_cast<const DmCommand*>(info.Data());
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    Napi::TypeError::New(env, std::string(cmd->exportName) + ": buffer must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> in = info[0].As<Napi::Buffer<uint8_t>>();
  uint32_t dataSize = 0;
  uint32_t flags = 0;
  if (in.Length() >= sizeof(struct dm_ioctl)) {
    memcpy(&dataSize, in.Data() + offsetof(struct dm_ioctl, data_size), 4);
    memcpy(&flags, in.Data() + offsetof(struct dm_ioctl, flags), 4);
  }
  // The kernel reads data_size bytes from the buffer and writes as many back: it must be ours.
  if (in.Length() < sizeof(struct dm_ioctl) || in.Length() > kMaxIoctlBytes || dataSize != in.Length()) {
    Napi::RangeError::New(env, std::string(cmd->exportName) + ": buffer must be a dm_ioctl whose data_size is its length")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<uint8_t> request(in.Data(), in.Data() + in.Length());
  auto work = [cmd, request](std::vector<uint8_t>& out, SysFailure& f) {
    out = request;
    int fd;
    if (!Control(&fd, f)) return false;
    if (ioctl(fd, cmd->request, out.data()) >= 0) return true;
    int err = errno;  // kept across building the target string
    const char* name = reinterpret_cast<const char*>(out.data() + offsetof(struct dm_ioctl, name));
    size_t len = strnlen(name, DM_NAME_LEN);
    std::string target = len > 0 ? std::string(name, len) : std::string(kControl);
    errno = err;
    return f.Fail(cmd->call, target);
  };
  auto done = [](Napi::Env env, std::vector<uint8_t>& out) -> Napi::Value {
    return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
  };
  if (cmd->pool && (flags & cmd->readOnlyFlags) == 0) return SysTask<std::vector<uint8_t>>::Start(env, cmd->exportName, work, done);
  return SysTask<std::vector<uint8_t>>::Now(env, work, done);
}

}  // namespace

void RegisterDm(Napi::Env env, Napi::Object exports) {
  for (const DmCommand& cmd : kCommands) {
    exports.Set(cmd.exportName, Napi::Function::New(env, Call, cmd.exportName, const_cast<DmCommand*>(&cmd)));
  }
  // The layout dm.ts packs by hand, for a check against this kernel header.
  Napi::Object abi = Napi::Object::New(env);
  abi.Set("ioctlSize", Napi::Number::New(env, sizeof(struct dm_ioctl)));
  abi.Set("nameOffset", Napi::Number::New(env, offsetof(struct dm_ioctl, name)));
  abi.Set("uuidOffset", Napi::Number::New(env, offsetof(struct dm_ioctl, uuid)));
  abi.Set("dataOffset", Napi::Number::New(env, offsetof(struct dm_ioctl, data)));
  abi.Set("targetSpecSize", Napi::Number::New(env, sizeof(struct dm_target_spec)));
  abi.Set("nameListNameOffset", Napi::Number::New(env, offsetof(struct dm_name_list, name)));
  abi.Set("targetVersionsNameOffset", Napi::Number::New(env, offsetof(struct dm_target_versions, name)));
  abi.Set("targetMsgMessageOffset", Napi::Number::New(env, offsetof(struct dm_target_msg, message)));
  exports.Set("DM_ABI", abi);
}

}  // namespace blockyard
