#pragma once
// Variable substitution, as ksqlDB's (KLIP-38): `DEFINE name = 'value';`
// binds a variable, and `${name}` anywhere in a later statement's text,
// quotes included, is replaced by its value before the statement is
// parsed. Names are case-insensitive; `$${name}` is the text `${name}`.
// `SET 'ksql.variable.substitution.enable' = 'false'` turns it off.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace rivulet::sql {

// Variables by name, upper-cased.
using Variables = std::map<std::string, std::string>;

// A letter or '_', then letters, digits and '_' (ksqlDB's rule).
bool valid_variable_name(std::string_view name);

// `text` with each `${name}` replaced by its variable's value and each
// `$${` by `${`. Comments are left as they are. A reference to a variable
// not defined is an error at its line:column in `text`; a `${` that does
// not start a reference (no name, no closing brace) stays as it is.
Expected<std::string> substitute_variables(std::string_view text, const Variables& variables);

// Command-line definitions, "NAME=VALUE" each (`--define`): the variables,
// or an error naming the first bad one.
Expected<Variables> parse_definitions(const std::vector<std::string>& definitions);

// The DEFINE statements that bind `variables`, on one line
// ("DEFINE A = 'x'; DEFINE B = 'it''s'; "): what `rivulet submit --define`
// puts before the file it registers, so that every node plans the same.
std::string define_statements(const Variables& variables);

}  // namespace rivulet::sql
