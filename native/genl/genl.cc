// Generic netlink: a NETLINK_GENERIC socket (common/netlink_socket.cc reads it on the main loop).
// Requests go out with send(), replies and multicast events come back through the one callback;
// encoding, matching replies to requests and resolving families are src/satellite/sys/genl.ts's.
#include "genl/genl.h"

#include <linux/netlink.h>

#include <vector>

#include "common/netlink_socket.h"

namespace blockyard {
namespace {

// genlOpen(rcvbufBytes, callback): a socket in no multicast group (generic netlink's group ids are
// assigned at run time: join with addMembership()), with SO_PASSCRED, read from now on. rcvbufBytes
// > 0 sets SO_RCVBUFFORCE. Throws SysError synchronously.
Napi::Value GenlOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<napi_value> args = {Napi::Number::New(env, NETLINK_GENERIC), Napi::Number::New(env, 0)};
  for (size_t i = 0; i < info.Length(); i++) args.push_back(info[i]);
  return NewNetlinkSocket(env, args);
}

}  // namespace

void RegisterGenl(Napi::Env env, Napi::Object exports) {
  exports.Set("genlOpen", Napi::Function::New(env, GenlOpen, "genlOpen"));
}

}  // namespace blockyard
