// Kernel uevents: a NETLINK_KOBJECT_UEVENT socket watched on the main loop.
#pragma once

#include <napi.h>

namespace blockyard {
void RegisterUevent(Napi::Env env, Napi::Object exports);
}
