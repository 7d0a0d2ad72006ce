// Device-mapper: the DM_* ioctls on /dev/mapper/control, one export per command.
#pragma once

#include <napi.h>

namespace blockyard {
void RegisterDm(Napi::Env env, Napi::Object exports);
}
