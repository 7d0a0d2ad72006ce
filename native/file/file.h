// Calls on regular files that node's fs module does not offer.
#pragma once

#include <napi.h>

namespace blockyard {
void RegisterFile(Napi::Env env, Napi::Object exports);
}
