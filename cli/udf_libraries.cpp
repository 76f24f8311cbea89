#include "cli/udf_libraries.hpp"

#include <dlfcn.h>

#include <iostream>

namespace rivulet::cli {

Expected<bool> load_udf_library(const std::string& path) {
  // RTLD_NOW: a symbol the library needs and the binary lacks fails here,
  // not in the middle of a query. Never closed: its functions' bodies run
  // until the process ends.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return Error::fatal("cannot load UDF library " + path + ": " +
                        (why ? why : "unknown dlopen error"));
  }
  using Register = const char* (*)();
  auto fn = reinterpret_cast<Register>(::dlsym(handle, "rivulet_register_udfs"));
  if (!fn)
    return Error::fatal("UDF library " + path +
                        " does not export rivulet_register_udfs (extern \"C\" const char* "
                        "rivulet_register_udfs())");
  if (const char* error = fn()) return Error::fatal("UDF library " + path + ": " + error);
  return true;
}

void add_udf_library_option(CLI::App& app) {
  // Subcommands pass options they do not know to the top level, so the
  // option may come before or after the command's name.
  app.fallthrough();
  app.add_option("--udf-library",
                 "A shared library of user-defined scalar functions to load "
                 "first (repeatable; docs/sql-reference.md, "
                 "\"User-defined functions\")")
      ->type_name("PATH")
      ->each([](const std::string& path) {
        auto loaded = load_udf_library(path);
        if (!loaded) {
          std::cerr << "rivulet: " << loaded.error().message << "\n";
          throw CLI::RuntimeError(2);
        }
      });
}

}  // namespace rivulet::cli
