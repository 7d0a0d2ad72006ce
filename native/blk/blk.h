// Block device calls that are not specific to one driver.
#pragma once

#include <napi.h>

namespace blockyard {
void RegisterBlk(Napi::Env env, Napi::Object exports);
}
