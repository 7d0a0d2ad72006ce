// Loop devices: /dev/loop-control and the loop ioctls, one export per kernel call.
#pragma once

#include <napi.h>

namespace blockyard {
void RegisterLoop(Napi::Env env, Napi::Object exports);
}
