// A netlink socket read with uv_poll on the main loop (no thread: reads never block, the socket is
// non-blocking). Every datagram goes to the JS callback raw, with what the kernel says about its
// sender (netlink port id, SCM_CREDENTIALS uid) and whether it was truncated. Deciding what to trust
// (for uevents: uid 0, port 0, whole, as systemd's sd-device/device-monitor.c) and parsing are
// TypeScript's (src/satellite/sys/uevent.ts, genl.ts).
#include "common/netlink_socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <uv.h>

#include <string.h>

#include <memory>
#include <string>

#include "common/fd.h"
#include "common/napi_util.h"

namespace blockyard {
namespace {

// A uevent is at most a 2048-byte environment (UEVENT_BUFFER_SIZE) plus its "action@devpath" header.
// A generic netlink dump fills each datagram up to the reader's largest receive buffer (the kernel's
// max_recvmsg_len) but at most 32 KiB (netlink_dump, Linux >= 4.x): 32 KiB takes any datagram whole.
// A bigger one is reported as truncated, not dropped here.
constexpr size_t kMessageBuffer = 32768;
// Messages read per wake-up before yielding to the loop (uv_poll is level-triggered: the rest waits
// for the next turn), so a burst of events cannot starve timers and I/O.
constexpr int kMessagesPerWakeup = 256;

std::string TargetName(int protocol) {
  switch (protocol) {
    case NETLINK_KOBJECT_UEVENT:
      return "NETLINK_KOBJECT_UEVENT";
    case NETLINK_GENERIC:
      return "NETLINK_GENERIC";
    default:
      return "netlink protocol " + std::to_string(protocol);
  }
}

class NetlinkSocket;

// Owned by libuv from uv_close() until its close callback, which closes the socket.
struct PollHandle {
  uv_poll_t poll;
  int fd = -1;
  NetlinkSocket* owner = nullptr;                       // nulled when polling stops
  napi_async_cleanup_hook_handle finishHook = nullptr;  // set when closed by the env's teardown
};

void OnPollClosed(uv_handle_t* h) {
  auto* handle = static_cast<PollHandle*>(h->data);
  Fd(handle->fd).Reset();
  if (handle->finishHook != nullptr) napi_remove_async_cleanup_hook(handle->finishHook);
  delete handle;
}

// new NetlinkSocket(protocol, groups, rcvbufBytes, callback); JS sees close(), ref(), unref(),
// send(message), addMembership(group).
// callback(err: SysError | null, message: Buffer | null, senderPort: number, senderUid: number,
// truncated: boolean). senderUid is -1 when the datagram carried no credentials. err is a failed
// recvmsg (ENOBUFS: the socket's buffer overflowed and messages were lost) or poll.
class NetlinkSocket : public Napi::ObjectWrap<NetlinkSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NetlinkSocket",
        {InstanceMethod<&NetlinkSocket::JsClose>("close"), InstanceMethod<&NetlinkSocket::JsRef>("ref"),
         InstanceMethod<&NetlinkSocket::JsUnref>("unref"), InstanceMethod<&NetlinkSocket::JsSend>("send"),
         InstanceMethod<&NetlinkSocket::JsAddMembership>("addMembership")});
  }

  explicit NetlinkSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkSocket>(info) {
    Napi::Env env = info.Env();
    uint64_t protocol, groups, rcvbuf;
    Napi::Function callback;
    if (!ArgUint(info, 0, "protocol", 31, &protocol) || !ArgUint(info, 1, "groups", 0xffffffff, &groups) ||
        !ArgUint(info, 2, "rcvbufBytes", 0x7fffffff, &rcvbuf) || !ArgFunction(info, 3, "callback", &callback)) {
      return;
    }
    target_ = TargetName(static_cast<int>(protocol));
    SysFailure f;
    if (!Open(env, static_cast<int>(protocol), static_cast<uint32_t>(groups), static_cast<int>(rcvbuf), f)) {
      ThrowSysError(env, f);
      return;
    }
    // Worker threads can end with the socket open: close it with their loop.
    napi_add_async_cleanup_hook(env, OnEnvTeardown, this, &cleanup_);
    callback_ = Napi::Persistent(callback);
    context_ = std::make_unique<Napi::AsyncContext>(env, "NetlinkSocket", info.This().As<Napi::Object>());
    Ref();  // an open socket stays alive without a JS reference; close() lets it go
  }

  ~NetlinkSocket() override { Stop(); }

 private:
  bool UvFail(int r, const char* call, SysFailure& f) {
    f.err = -r;  // libuv's errors are negated errnos on Linux
    f.syscall = call;
    f.target = target_;
    return false;
  }

  bool Open(Napi::Env env, int protocol, uint32_t groups, int rcvbuf, SysFailure& f) {
    Fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol));
    if (!fd.Valid()) return f.Fail("socket", target_);
    // SO_RCVBUFFORCE (CAP_NET_ADMIN) passes rmem_max: a burst of events must not overflow the socket.
    if (rcvbuf > 0 && setsockopt(fd.Get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0) {
      return f.Fail("setsockopt(SO_RCVBUFFORCE)", target_);
    }
    int on = 1;
    if (setsockopt(fd.Get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0) {
      return f.Fail("setsockopt(SO_PASSCRED)", target_);
    }
    struct sockaddr_nl addr = {};
    addr.nl_family = AF_NETLINK;
    addr.nl_pid = 0;  // the kernel assigns our port id
    addr.nl_groups = groups;
    if (bind(fd.Get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0) return f.Fail("bind", target_);

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return UvFail(-EINVAL, "napi_get_uv_event_loop", f);
    auto handle = std::make_unique<PollHandle>();
    int r = uv_poll_init(loop, &handle->poll, fd.Get());
    if (r < 0) return UvFail(r, "uv_poll_init", f);
    handle->poll.data = handle.get();
    handle->fd = fd.Release();
    handle->owner = this;
    handle_ = handle.release();  // live from here: closing it is Stop()'s job
    r = uv_poll_start(&handle_->poll, UV_READABLE, OnPoll);
    if (r < 0) {
      Stop();
      return UvFail(r, "uv_poll_start", f);
    }
    return true;
  }

  static void OnPoll(uv_poll_t* poll, int status, int /*events*/) {
    auto* handle = static_cast<PollHandle*>(poll->data);
    if (handle->owner != nullptr) handle->owner->Drain(status);
  }

  static void OnEnvTeardown(napi_async_cleanup_hook_handle hook, void* arg) {
    auto* self = static_cast<NetlinkSocket*>(arg);
    self->cleanup_ = nullptr;
    if (self->handle_ == nullptr) {
      napi_remove_async_cleanup_hook(hook);
      return;
    }
    self->handle_->finishHook = hook;  // removed once libuv has closed the handle
    self->Stop();
  }

  // Stops polling and hands the handle to libuv to close. Touches no JS (runs at env teardown too).
  void Stop() {
    if (handle_ == nullptr) return;
    uv_poll_stop(&handle_->poll);
    handle_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll), OnPollClosed);
    handle_ = nullptr;
    if (cleanup_ != nullptr) {
      napi_remove_async_cleanup_hook(cleanup_);
      cleanup_ = nullptr;
    }
  }

  void Deliver(std::initializer_list<napi_value> args) {
    Napi::Env env = Env();
    callback_.MakeCallback(Value(), args, *context_);
    if (env.IsExceptionPending()) {
      // Nothing in JS is below us to catch it: report it as uncaught, as node does for its own callbacks.
      napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    }
  }

  void DeliverError(const SysFailure& f) {
    Napi::Env env = Env();
    Napi::Value err = MakeSysError(env, f);
    if (env.IsExceptionPending()) err = env.GetAndClearPendingException().Value();
    Deliver({err, env.Null(), Napi::Number::New(env, 0), Napi::Number::New(env, -1), Napi::Boolean::New(env, false)});
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      SysFailure f;
      f.err = -status;
      f.syscall = "uv_poll";
      f.target = target_;
      DeliverError(f);
      return;
    }
    for (int i = 0; i < kMessagesPerWakeup && handle_ != nullptr; i++) {  // the callback may close us
      struct sockaddr_nl sender = {};
      union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(struct ucred))];
      } control;
      struct iovec iov = {buf_.get(), kMessageBuffer};
      struct msghdr msg = {};
      msg.msg_name = &sender;
      msg.msg_namelen = sizeof(sender);
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = &control;
      msg.msg_controllen = sizeof(control);
      ssize_t n = recvmsg(handle_->fd, &msg, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        SysFailure f;
        f.Fail("recvmsg", target_);
        DeliverError(f);
        if (f.err == ENOBUFS) continue;  // the overflow is reported; what is queued after it is intact
        return;
      }
      double uid = -1;
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
          struct ucred cred;
          memcpy(&cred, CMSG_DATA(c), sizeof(cred));
          uid = cred.uid;
        }
      }
      const bool truncated = (msg.msg_flags & MSG_TRUNC) != 0;
      const size_t len = static_cast<size_t>(n) < kMessageBuffer ? static_cast<size_t>(n) : kMessageBuffer;
      Napi::HandleScope inner(env);
      Deliver({Napi::Value(env.Null()), Napi::Buffer<uint8_t>::Copy(env, buf_.get(), len),
               Napi::Number::New(env, sender.nl_pid), Napi::Number::New(env, uid), Napi::Boolean::New(env, truncated)});
    }
  }

  Napi::Value JsClose(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) {
      Stop();
      context_.reset();
      callback_.Reset();
      Unref();
    }
    return info.Env().Undefined();
  }

  // ref()/unref(): whether the open socket keeps the process alive (as node's handles).
  Napi::Value JsRef(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
    return info.Env().Undefined();
  }
  Napi::Value JsUnref(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
    return info.Env().Undefined();
  }

  // Fails with EBADF once closed, as the kernel would on a closed descriptor.
  bool CheckOpen(Napi::Env env, const char* call) {
    if (handle_ != nullptr) return true;
    SysFailure f;
    f.err = EBADF;
    f.syscall = call;
    f.target = target_;
    ThrowSysError(env, f);
    return false;
  }

  // send(message: Buffer): one datagram to the kernel (port 0). A netlink request is handled in the
  // sender's own sendmsg, so this never waits on anything but the kernel's handler; the replies come
  // through the callback.
  Napi::Value JsSend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "message must be a Buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!CheckOpen(env, "sendto")) return env.Undefined();
    auto message = info[0].As<Napi::Buffer<uint8_t>>();
    struct sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    ssize_t n;
    do {
      n = sendto(handle_->fd, message.Data(), message.Length(), 0, reinterpret_cast<struct sockaddr*>(&kernel),
                 sizeof(kernel));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      SysFailure f;
      f.Fail("sendto", target_);
      ThrowSysError(env, f);
    }
    return env.Undefined();
  }

  // addMembership(group): NETLINK_ADD_MEMBERSHIP, for multicast groups past the 32 of bind()'s mask
  // (generic netlink assigns its group ids at run time).
  Napi::Value JsAddMembership(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t group;
    if (!ArgUint(info, 0, "group", 0xffffffff, &group) || !CheckOpen(env, "setsockopt(NETLINK_ADD_MEMBERSHIP)")) {
      return env.Undefined();
    }
    const unsigned int g = static_cast<unsigned int>(group);
    if (setsockopt(handle_->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
      SysFailure f;
      f.Fail("setsockopt(NETLINK_ADD_MEMBERSHIP)", target_);
      ThrowSysError(env, f);
    }
    return env.Undefined();
  }

  PollHandle* handle_ = nullptr;
  std::string target_;
  std::unique_ptr<uint8_t[]> buf_{new uint8_t[kMessageBuffer]};
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

Napi::Value NewNetlinkSocket(Napi::Env env, const std::vector<napi_value>& args) {
  AddonData* data = GetAddonData(env);
  if (data->netlinkSocket.IsEmpty()) data->netlinkSocket = Napi::Persistent(NetlinkSocket::Define(env));
  Napi::Object socket = data->netlinkSocket.New(args);
  if (env.IsExceptionPending()) return env.Undefined();
  return socket;
}

}  // namespace blockyard
