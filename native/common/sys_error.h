// SysError: the failure of one kernel call, as the TypeScript class given to init() (native.ts).
#pragma once

#include <napi.h>

#include <string>

namespace blockyard {

// What failed, captured on the thread that made the call: errno, the call as a person reads it
// ("ioctl(LOOP_CONFIGURE)") and the path it was made on. Worker threads fill it; the main thread turns
// it into a SysError.
struct SysFailure {
  int err = 0;
  const char* syscall = "";
  std::string target;

  // Records errno now; returns false so that call sites read `return f.Fail("open", path);`.
  bool Fail(const char* call, const std::string& on) {
    err = errno;
    syscall = call;
    target = on;
    return false;
  }
};

// State of one Node.js environment (the main thread or one worker thread).
struct AddonData {
  Napi::FunctionReference sysError;      // new SysError(errno, syscall, target)
  Napi::FunctionReference netlinkSocket;  // the class behind ueventOpen() and genlOpen()
};

AddonData* GetAddonData(Napi::Env env);

// A SysError instance for `f` (a plain Error when init() was never called).
Napi::Value MakeSysError(Napi::Env env, const SysFailure& f);
void ThrowSysError(Napi::Env env, const SysFailure& f);

// init(SysError): JS export. Called once by native.ts before anything else.
Napi::Value Init(const Napi::CallbackInfo& info);

}  // namespace blockyard
