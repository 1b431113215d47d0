{
  "targets": [
    {
      "target_name": "dmabridge",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/dmabuf.cc",
        "native/drm.cc",
        "native/error.cc",
        "native/files.cc",
        "native/heap.cc",
        "native/mapping.cc",
        "native/memfd.cc",
        "native/sync_file.cc",
        "native/udmabuf.cc",
        "native/watch.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall"]
    }
  ]
}
