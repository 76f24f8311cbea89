#pragma once
// Configuration: one table of every key Rivulet understands (name, type,
// default, valid values, documentation). The same table validates
// properties files, environment overrides and --set flags, prints --help, and
// generates docs/configuration.md (`rivulet config --markdown`).
//
// Precedence, lowest first: defaults, properties file, environment
// (RIVULET_<KEY> with dots as underscores, upper-case: RIVULET_COMMIT_INTERVAL_MS),
// --set key=value. Keys under `kafka.consumer.` and `kafka.producer.` pass
// through to librdkafka unchecked here (librdkafka validates them).
#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace rivulet {

enum class ConfigType { String, Int, Bool, Enum };

struct ConfigKey {
  std::string name;
  ConfigType type;
  std::string default_value;         // empty: no default
  std::vector<std::string> choices;  // for Enum
  int64_t min = 0, max = INT64_MAX;  // for Int
  std::string doc;
};

// application.id's rule (it prefixes topic names): 1 to 200 of Kafka's
// topic name characters, letters, digits, '.', '_' and '-'.
Expected<bool> check_application_id(const std::string& id);

// Every key, in documentation order.
const std::vector<ConfigKey>& config_keys();
const ConfigKey* find_config_key(std::string_view name);

// A validated configuration. Owned by whoever loaded it; immutable after
// load, so any thread may read it.
class Config {
 public:
  // Defaults only.
  Config();

  // Parses a Java-style properties file (key=value or key: value, # and !
  // comments, backslash line continuation). Errors name file:line.
  static Expected<std::map<std::string, std::string>> read_properties(const std::string& path);

  // Applies file (may be empty), environment and overrides in order and
  // validates every key: unknown keys and bad values are errors naming the
  // key and the valid values.
  static Expected<Config> load(const std::string& properties_file,
                               const std::vector<std::string>& set_overrides,
                               bool use_environment = true);
  static Expected<Config> from_map(const std::map<std::string, std::string>& values);

  // Sets one key (validated).
  Expected<bool> set(const std::string& key, const std::string& value);

  std::string get(const std::string& key) const;  // "" when unset without default
  int64_t get_int(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  // librdkafka properties under `kafka.<role>.` with the prefix stripped;
  // role is "consumer" or "producer".
  std::map<std::string, std::string> kafka_properties(const std::string& role) const;
  const std::map<std::string, std::string>& values() const { return values_; }
  // True when `key` was set (file, environment, override, set()), not
  // only defaulted.
  bool is_set(const std::string& key) const { return explicit_.count(key) != 0; }

  // The table rendered for --help (plain text) or docs (markdown).
  static std::string describe_keys(bool markdown);

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> explicit_;
};

}  // namespace rivulet
