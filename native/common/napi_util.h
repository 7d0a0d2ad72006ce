// Argument checks and the two ways kernel calls run, both settling a Promise: on the libuv thread pool
// (Start) for calls that can wait on I/O or on someone else's lock, or on the calling thread (Now) for
// calls that only read kernel state. A thread-pool trip wakes a pool thread and then the event loop
// again; in a VM each wake-up of another vCPU is an exit to the hypervisor, which costs more than
// such a call itself.
#pragma once

#include <napi.h>

#include <cmath>
#include <functional>
#include <string>
#include <utility>

#include "common/sys_error.h"

namespace blockyard {

// Argument readers: on a wrong type they throw a TypeError and return false. native.ts validates
// first; these only keep a misuse from reaching the kernel.
inline bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must not contain NUL").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// A non-negative integer Number no larger than `max` (at most 2^53, where doubles stop being exact).
inline bool ArgUint(const Napi::CallbackInfo& info, size_t i, const char* name, double max, uint64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > max || std::floor(v) != v) {
    Napi::RangeError::New(info.Env(), std::string(name) + " out of range").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint64_t>(v);
  return true;
}

inline bool ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Function* out) {
  if (info.Length() <= i || !info[i].IsFunction()) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must be a function").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Function>();
  return true;
}

constexpr double kMaxSafeInteger = 9007199254740991.0;

// Runs `work` on the thread pool (it must not touch JS), then settles the returned Promise on the main
// thread: resolved with done(env, result), or rejected with the SysError `work` recorded.
template <typename R>
class SysTask final : public Napi::AsyncWorker {
 public:
  using Work = std::function<bool(R&, SysFailure&)>;
  using Done = std::function<Napi::Value(Napi::Env, R&)>;

  static Napi::Value Start(Napi::Env env, const char* name, Work work, Done done) {
    auto* task = new SysTask(env, name, std::move(work), std::move(done));
    Napi::Promise promise = task->deferred_.Promise();
    task->Queue();  // the worker deletes itself after OnOK/OnError
    return promise;
  }

  // Runs `work` here and now; the Promise is settled before this returns (callers await either kind
  // alike).
  static Napi::Value Now(Napi::Env env, const Work& work, const Done& done) {
    auto deferred = Napi::Promise::Deferred::New(env);
    R result{};
    SysFailure failure;
    if (work(result, failure)) {
      Resolve(env, deferred, done, result);
    } else {
      Reject(env, deferred, failure);
    }
    return deferred.Promise();
  }

 private:
  SysTask(Napi::Env env, const char* name, Work work, Done done)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        done_(std::move(done)) {}

  void Execute() override {
    if (!work_(result_, failure_)) SetError(failure_.syscall);
  }

  void OnOK() override { Resolve(Env(), deferred_, done_, result_); }

  void OnError(const Napi::Error&) override { Reject(Env(), deferred_, failure_); }

  // Settles with done(env, result), or with what done threw.
  static void Resolve(Napi::Env env, Napi::Promise::Deferred& deferred, const Done& done, R& result) {
    Napi::Value value = done(env, result);
    if (env.IsExceptionPending()) {
      deferred.Reject(env.GetAndClearPendingException().Value());
    } else {
      deferred.Resolve(value);
    }
  }

  // Rejects with the SysError of `failure` (or whatever building it threw).
  static void Reject(Napi::Env env, Napi::Promise::Deferred& deferred, const SysFailure& failure) {
    Napi::Value err = MakeSysError(env, failure);
    if (env.IsExceptionPending()) err = env.GetAndClearPendingException().Value();
    deferred.Reject(err);
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  R result_{};
  SysFailure failure_;
};

// For calls that return nothing.
struct Nothing {};

}  // namespace blockyard
