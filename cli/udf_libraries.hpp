#pragma once
// `rivulet --udf-library PATH` (repeatable, on any command): loads shared
// libraries of user-defined scalar functions before the command runs, as
// ksqlDB loads the jars of its extension directory at start-up.
//
// A library exports `extern "C" const char* rivulet_register_udfs()`,
// which registers its functions with rivulet::sql::register_function and
// returns nullptr, or an error message. It is built against the same
// Rivulet sources and compiler as the `rivulet` binary: the C++ types of
// sql/functions.hpp cross the boundary (examples/udf/ is one).
#include <CLI/CLI.hpp>
#include <string>

#include "runtime/error.hpp"

namespace rivulet::cli {

// Loads one library and runs its registration; an error names the path.
Expected<bool> load_udf_library(const std::string& path);

// Adds the option to the top-level app; each library is loaded when the
// option is parsed, before any command's callback runs. A library that
// cannot be loaded stops the command with exit status 2.
void add_udf_library_option(CLI::App& app);

}  // namespace rivulet::cli
