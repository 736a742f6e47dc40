{
  "targets": [
    {
      "target_name": "wgjs_native",
      "sources": ["src/wgjs_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
