#include "common/sys_error.h"

namespace blockyard {

AddonData* GetAddonData(Napi::Env env) {
  return env.GetInstanceData<AddonData>();
}

Napi::Value MakeSysError(Napi::Env env, const SysFailure& f) {
  AddonData* data = GetAddonData(env);
  if (data == nullptr || data->sysError.IsEmpty()) {
    // Only reachable when native.ts was bypassed; keep the facts in the message.
    return Napi::Error::New(env, std::string(f.syscall) + " " + f.target + ": errno " + std::to_string(f.err)).Value();
  }
  return data->sysError.New({Napi::Number::New(env, f.err), Napi::String::New(env, f.syscall),
                             Napi::String::New(env, f.target)});
}

void ThrowSysError(Napi::Env env, const SysFailure& f) {
  Napi::Value err = MakeSysError(env, f);
  if (env.IsExceptionPending()) return;  // the constructor itself threw
  Napi::Error(env, err).ThrowAsJavaScriptException();
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "init(SysError): SysError must be a class").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  GetAddonData(env)->sysError = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

}  // namespace blockyard
