// Registers the addon's functions; each lives with its subsystem under native/.
#include <napi.h>

#include "common/sys_error.h"
#if defined(__linux__)
#include "blk/blk.h"
#include "dm/dm.h"
#include "file/file.h"
#include "genl/genl.h"
#include "loop/loop.h"
#include "uevent/uevent.h"
#endif

namespace {

Napi::Object Register(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new blockyard::AddonData());
#if defined(__linux__)
  exports.Set("init", Napi::Function::New(env, blockyard::Init, "init"));
  blockyard::RegisterLoop(env, exports);
  blockyard::RegisterBlk(env, exports);
  blockyard::RegisterDm(env, exports);
  blockyard::RegisterFile(env, exports);
  blockyard::RegisterUevent(env, exports);
  blockyard::RegisterGenl(env, exports);
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(blockyard, Register)
