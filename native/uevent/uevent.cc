// Kernel uevents: a NETLINK_KOBJECT_UEVENT socket (common/netlink_socket.cc reads it on the main
// loop). Deciding what to trust and parsing the text are src/satellite/sys/uevent.ts's.
#include "uevent/uevent.h"

#include <linux/netlink.h>

#include <vector>

#include "common/netlink_socket.h"

namespace blockyard {
namespace {

// ueventOpen(groups, rcvbufBytes, callback): a socket bound to the multicast `groups` (1: the
// kernel's own events; udev re-broadcasts on 2), with SO_PASSCRED, read from now on. rcvbufBytes > 0
// sets SO_RCVBUFFORCE. Throws SysError synchronously.
Napi::Value UeventOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<napi_value> args = {Napi::Number::New(env, NETLINK_KOBJECT_UEVENT)};
  for (size_t i = 0; i < info.Length(); i++) args.push_back(info[i]);
  return NewNetlinkSocket(env, args);
}

}  // namespace

void RegisterUevent(Napi::Env env, Napi::Object exports) {
  exports.Set("ueventOpen", Napi::Function::New(env, UeventOpen, "ueventOpen"));
}

}  // namespace blockyard
