// Generic netlink: a NETLINK_GENERIC socket watched on the main loop.
#pragma once

#include <napi.h>

namespace blockyard {
void RegisterGenl(Napi::Env env, Napi::Object exports);
}
