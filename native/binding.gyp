{
  "targets": [
    {
      "target_name": "nfvkit_native",
      "sources": [
        "src/module.cc",
        "src/args.cc",
        "src/udp-socket.cc",
        "src/readiness.cc",
        "src/shared-memory.cc",
        "src/sandbox.cc",
        "src/heap.cc"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"]
    }
  ]
}
