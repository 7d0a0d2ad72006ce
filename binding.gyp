# The satellite's native addon: thin wrappers over kernel calls (STYLE.md §5). Built by node-gyp on
# `npm ci` (the package's default install script) or `npm run build:native`; loaded only by
# src/satellite/sys/native.ts from build/Release/blockyard.node.
{
  "targets": [
    {
      "target_name": "blockyard",
      "sources": ["native/addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        # Node-API 8 (Node >= 12.22 / 14.17 / 16): async cleanup hooks and everything else used here.
        "NAPI_VERSION=8",
        # Errors become pending JS exceptions, never C++ throws: every call site checks and returns.
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        # A thread-pool call that completes while its environment is being torn down (process exit
        # with a call in flight) cannot settle its Promise; without this node-addon-api aborts.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-fno-exceptions", "-Wall", "-Wextra"],
      "conditions": [
        # Loop devices, device-mapper, block ioctls and kernel uevents are Linux's; elsewhere the addon
        # registers nothing and native.ts says so.
        ["OS=='linux'", {
          "defines": ["_GNU_SOURCE"],
          "sources": [
            "native/common/sys_error.cc",
            "native/common/netlink_socket.cc",
            "native/dm/dm.cc",
            "native/loop/loop.cc",
            "native/blk/blk.cc",
            "native/file/file.cc",
            "native/uevent/uevent.cc",
            "native/genl/genl.cc"
          ]
        }]
      ]
    }
  ]
}
