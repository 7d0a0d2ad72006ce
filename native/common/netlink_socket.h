// A netlink socket watched with uv_poll on the main loop, shared by the uevent and generic netlink
// sockets: each datagram goes to a JS callback raw, with its sender; parsing is TypeScript's.
#pragma once

#include <napi.h>

#include <vector>

namespace blockyard {

// A new socket (of the class behind ueventOpen() and genlOpen(), defined on first use and kept in
// AddonData::netlinkSocket) from constructor arguments (protocol, groups, rcvbufBytes, callback): the socket
// object, or undefined with a SysError or TypeError pending.
Napi::Value NewNetlinkSocket(Napi::Env env, const std::vector<napi_value>& args);

}  // namespace blockyard
