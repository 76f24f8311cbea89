// `rivulet verify --bootstrap LIST --input TOPIC --output TOPIC --id FIELD
//   [--table TOPIC --expect FILE] [--json] [--exactly-once] [--read-committed]
//   [--timeout SECONDS]`
// Reads the input and output topics and reports what was lost and what was
// duplicated, and why. Exit status: 0 when nothing is missing and every
// duplicate is explained (none at all with --exactly-once), 1 otherwise,
// 2 when the topics could not be read or the arguments are wrong.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "chaos/topic_reader.hpp"
#include "chaos/verifier.hpp"
#include "cli/commands.hpp"
#include "runtime/codec.hpp"

namespace rivulet::cli {

namespace {

struct VerifyOptions {
  std::string bootstrap, input, output, id_field, table, expect;
  bool json = false, exactly_once = false, read_committed = false;
  int timeout = 60;
};

constexpr size_t kListed = 20;  // ids printed per category

// The id field of a JSON value, as text; nullopt when absent.
std::optional<std::string> id_of(const Codec& json, const std::optional<std::string>& value,
                                 const std::string& field) {
  if (!value) return std::nullopt;
  auto v = json.decode(*value);
  if (!v) return std::nullopt;
  const Value* f = v->field(field);
  if (!f || f->is_null()) return std::nullopt;
  return f->kind() == TypeKind::String ? f->as_string() : f->to_string();
}

int run_verify(const VerifyOptions& o) {
  chaos::ReadOptions read;
  read.read_committed = o.read_committed;
  read.timeout = std::chrono::seconds(o.timeout);
  auto in = chaos::read_topic(o.bootstrap, o.input, read);
  if (!in) {
    std::cerr << "rivulet verify: " << in.error().to_string() << "\n";
    return 2;
  }
  auto out = chaos::read_topic(o.bootstrap, o.output, read);
  if (!out) {
    std::cerr << "rivulet verify: " << out.error().to_string() << "\n";
    return 2;
  }
  auto json = make_json_codec();
  std::vector<chaos::InputRecord> inputs;
  std::vector<chaos::OutputRecordInfo> outputs;
  int64_t input_without_id = 0, output_without_id = 0;
  for (const auto& r : *in) {
    auto id = id_of(*json, r.record.value, o.id_field);
    if (!id) {
      ++input_without_id;
      continue;
    }
    inputs.push_back({*id, r.tp, r.record.offset});
  }
  for (const auto& r : *out) {
    auto id = id_of(*json, r.record.value, o.id_field);
    if (!id) {
      ++output_without_id;
      continue;
    }
    outputs.push_back({*id, r.tp, r.record.offset, r.header("rivulet.input"),
                       r.header("rivulet.task"), r.header("rivulet.epoch")});
  }
  auto report = chaos::verify(inputs, outputs);
  if (!o.table.empty()) {
    std::ifstream f(o.expect);
    auto expected_json = nlohmann::json::parse(f, nullptr, false);
    if (!f || expected_json.is_discarded() || !expected_json.is_object()) {
      std::cerr << "rivulet verify: --expect " << o.expect
                << " must be a JSON object {\"key\": value, ...}\n";
      return 2;
    }
    std::map<std::string, std::string> expected;
    for (auto& [k, v] : expected_json.items()) expected[k] = v.dump();
    auto table = chaos::read_topic(o.bootstrap, o.table, read);
    if (!table) {
      std::cerr << "rivulet verify: " << table.error().to_string() << "\n";
      return 2;
    }
    std::vector<chaos::TableRecord> records;
    for (const auto& r : *table) {
      if (r.record.key) records.push_back({*r.record.key, r.record.value});
    }
    report.table = chaos::check_table(records, expected);
  }
  const bool ok = report.ok(o.exactly_once) && output_without_id == 0;
  int64_t explained = static_cast<int64_t>(report.duplicates.size()) -
                      report.unexplained_duplicates;

  if (o.json) {
    auto first = [](const std::vector<std::string>& v) {
      return std::vector<std::string>(v.begin(), v.begin() + std::min(v.size(), kListed));
    };
    nlohmann::json examples = nlohmann::json::array();
    for (const auto& d : report.duplicates) {
      if (examples.size() >= kListed) break;
      examples.push_back({{"id", d.id},
                          {"copies", d.copies.size()},
                          {"explained", d.explained},
                          {"explanation", d.explanation}});
    }
    nlohmann::json j = {
        {"input_records", report.input_records},
        {"input_records_without_id", input_without_id},
        {"output_records", report.output_records},
        {"output_records_without_id", output_without_id},
        {"distinct_output_ids", report.distinct_output_ids},
        {"missing", {{"count", report.missing_ids.size()}, {"ids", first(report.missing_ids)}}},
        {"unexpected",
         {{"count", report.unexpected_ids.size()}, {"ids", first(report.unexpected_ids)}}},
        {"duplicates",
         {{"count", report.duplicates.size()},
          {"explained", explained},
          {"unexplained", report.unexplained_duplicates},
          {"examples", examples}}},
        {"exactly_once", o.exactly_once},
        {"ok", ok}};
    if (report.table.requested) {
      j["table"] = {{"ok", report.table.ok()},
                    {"mismatched", first(report.table.mismatched)},
                    {"missing", first(report.table.missing)},
                    {"extra", first(report.table.extra)}};
    }
    std::cout << j.dump() << std::endl;
    return ok ? 0 : 1;
  }

  const bool tty = ::isatty(STDOUT_FILENO);
  auto row = [&](const std::string& what, int64_t n) {
    if (tty) {
      std::printf("  %-34s %12lld\n", what.c_str(), static_cast<long long>(n));
    } else {
      std::printf("%s: %lld\n", what.c_str(), static_cast<long long>(n));
    }
  };
  if (tty) std::printf("rivulet verify: %s -> %s (id %s)\n", o.input.c_str(), o.output.c_str(),
                       o.id_field.c_str());
  row("input records", report.input_records);
  if (input_without_id) row("input records without the id field", input_without_id);
  row("output records", report.output_records);
  if (output_without_id) row("output records without the id field", output_without_id);
  row("distinct ids in the output", report.distinct_output_ids);
  row("missing (lost)", static_cast<int64_t>(report.missing_ids.size()));
  row("unexpected", static_cast<int64_t>(report.unexpected_ids.size()));
  row("duplicated ids", static_cast<int64_t>(report.duplicates.size()));
  row("  explained as replays", explained);
  row("  unexplained", report.unexplained_duplicates);
  size_t shown = 0;
  for (const auto& id : report.missing_ids) {
    if (shown++ == kListed) break;
    std::printf("missing %s\n", id.c_str());
  }
  shown = 0;
  for (const auto& d : report.duplicates) {
    if (d.explained && !o.exactly_once) continue;
    if (shown++ == kListed) break;
    std::printf("duplicate %s (%zu copies): %s\n", d.id.c_str(), d.copies.size(),
                d.explanation.c_str());
  }
  if (report.table.requested) {
    row("table keys mismatched", static_cast<int64_t>(report.table.mismatched.size()));
    row("table keys missing", static_cast<int64_t>(report.table.missing.size()));
    row("table keys extra", static_cast<int64_t>(report.table.extra.size()));
    for (size_t i = 0; i < report.table.mismatched.size() && i < kListed; ++i) {
      std::printf("table %s\n", report.table.mismatched[i].c_str());
    }
  }
  std::printf("%s\n", ok ? "OK" : "NOT OK");
  return ok ? 0 : 1;
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "verify", "Report records lost or duplicated between an input and an output topic");
  auto o = std::make_shared<VerifyOptions>();
  cmd->add_option("--bootstrap", o->bootstrap, "Kafka bootstrap list")->required();
  cmd->add_option("--input", o->input, "Input topic")->required();
  cmd->add_option("--output", o->output, "Output topic")->required();
  cmd->add_option("--id", o->id_field, "JSON field identifying a record in both")->required();
  auto* table = cmd->add_option("--table", o->table, "Table (changelog) topic to check");
  auto* expect =
      cmd->add_option("--expect", o->expect, "JSON object of expected final values per key");
  table->needs(expect);
  expect->needs(table);
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_flag("--exactly-once", o->exactly_once, "Fail on any duplicate");
  cmd->add_flag("--read-committed", o->read_committed, "Read with isolation.level=read_committed");
  cmd->add_option("--timeout", o->timeout, "Seconds allowed to read each topic");
  cmd->callback([o] { exit_code = run_verify(*o); });
}

}  // namespace rivulet::cli
