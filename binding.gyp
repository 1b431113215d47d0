{
  "targets": [
    {
      "target_name": "dmabridge",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/cuda.cc",
        "native/dmabuf.cc",
        "native/drm.cc",
        "native/error.cc",
        "native/files.cc",
        "native/heap.cc",
        "native/mapping.cc",
        "native/memfd.cc",
        "native/owned-fds.cc",
        "native/result.cc",
        "native/runtime-library.cc",
        "native/sync-file.cc",
        "native/udmabuf.cc",
        "native/unix-socket.cc",
        "native/watch.cc",
        "native/rdmacm/args.cc",
        "native/rdmacm/channel.cc",
        "native/rdmacm/connect.cc",
        "native/rdmacm/context.cc",
        "native/rdmacm/events.cc",
        "native/rdmacm/handles.cc",
        "native/rdmacm/id.cc",
        "native/rdmacm/init.cc",
        "native/rdmacm/loader.cc",
        "native/rdmacm/qp.cc",
        "native/verbs/advise.cc",
        "native/verbs/cq.cc",
        "native/verbs/device.cc",
        "native/verbs/handles.cc",
        "native/verbs/init.cc",
        "native/verbs/loader.cc",
        "native/verbs/memlock.cc",
        "native/verbs/mr.cc",
        "native/verbs/post.cc",
        "native/verbs/qp.cc"
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
