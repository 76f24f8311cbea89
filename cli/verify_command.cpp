// `rivulet verify --bootstrap LIST --input TOPIC --output TOPIC --id FIELD
//   [--table TOPIC --expect FILE] [--json] [--exactly-once] [--read-committed]
//   [--timeout SECONDS]`
// Reads the input and output topics and reports what was lost and what was
// duplicated, and why (chaos/topic_verifier.hpp). Exit status: 0 when the
// verdict is ok, 1 when it is not, 2 for usage errors and topics that could
// not be read. The report is a table on a terminal, plain `name: value`
// lines otherwise, and one JSON object with --json.
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "chaos/topic_verifier.hpp"
#include "cli/commands.hpp"

namespace rivulet::cli {

namespace {

constexpr int kNotOk = 1;
constexpr int kUsageOrConnection = 2;
constexpr size_t kListed = 20;  // ids and examples shown per category

struct VerifyArgs {
  std::string bootstrap, input, output, id_field, table, expect;
  std::string timeout = "60";
  bool json = false, exactly_once = false, read_committed = false;
};

int usage_error(const std::string& message) {
  std::cerr << "rivulet verify: " << message << " (see rivulet verify --help)\n";
  return kUsageOrConnection;
}

std::string at(const TopicPartition& tp, int64_t offset) {
  return tp.to_string() + "@" + std::to_string(offset);
}

// Terminal: an aligned table with headings. Elsewhere: `name: value` lines
// and one line per listed item, easy to grep.
class TextReport {
 public:
  explicit TextReport(bool tty) : tty_(tty) {}

  void heading(const std::string& title) {
    if (tty_) std::printf("\n%s\n", title.c_str());
  }
  void count(const std::string& name, int64_t n) {
    if (tty_) {
      std::printf("  %-36s %12lld\n", name.c_str(), static_cast<long long>(n));
    } else {
      std::printf("%s: %lld\n", key(name).c_str(), static_cast<long long>(n));
    }
  }
  void item(const std::string& kind, const std::string& text) {
    if (tty_) {
      std::printf("    - %s\n", text.c_str());
    } else {
      std::printf("%s: %s\n", kind.c_str(), text.c_str());
    }
  }
  template <typename T, typename Render>
  void items(const std::string& kind, const std::vector<T>& list, Render render) {
    for (size_t i = 0; i < list.size() && i < kListed; ++i) item(kind, render(list[i]));
    if (list.size() > kListed) {
      item(kind, "... and " + std::to_string(list.size() - kListed) + " more");
    }
  }

 private:
  // "missing (lost)" -> "missing_lost"
  static std::string key(const std::string& name) {
    std::string k;
    for (char c : name) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        k += c;
      } else if (!k.empty() && k.back() != '_') {
        k += '_';
      }
    }
    while (!k.empty() && k.back() == '_') k.pop_back();
    return k;
  }
  bool tty_;
};

void print_text(const VerifyArgs& args, const chaos::TopicVerifyResult& result) {
  const chaos::VerifyReport& r = result.report;
  TextReport out(::isatty(STDOUT_FILENO) != 0);
  auto self = [](const std::string& s) { return s; };
  auto unidentified = [](const chaos::Unidentified& u) {
    return at(u.tp, u.offset) + ": " + u.reason;
  };
  out.heading("rivulet verify: " + args.input + " -> " + args.output + " (id: " + args.id_field +
              ")");
  out.count("input records", r.input_records);
  out.count("output records", r.output_records);
  out.count("distinct ids in the output", r.distinct_output_ids);
  out.count("missing (lost)", static_cast<int64_t>(r.missing_ids.size()));
  out.items("missing", r.missing_ids, self);
  out.count("unexpected ids", static_cast<int64_t>(r.unexpected_ids.size()));
  out.items("unexpected", r.unexpected_ids, self);
  out.count("duplicated ids", static_cast<int64_t>(r.duplicates.size()));
  out.count("duplicates explained (replays)", r.explained_duplicates);
  out.count("duplicates unexplained", r.unexplained_duplicates);
  std::vector<const chaos::DuplicateReport*> shown;
  for (const auto& d : r.duplicates) {
    if (!d.explained || args.exactly_once) shown.push_back(&d);
  }
  out.items("duplicate", shown, [](const chaos::DuplicateReport* d) {
    return d->id + " (" + std::to_string(d->copies.size()) + " copies, " +
           (d->explained ? "explained" : "unexplained") + "): " + d->explanation;
  });
  if (!r.repeated_input_ids.empty()) {
    out.count("ids the input holds twice or more",
              static_cast<int64_t>(r.repeated_input_ids.size()));
    out.items("repeated_input_id", r.repeated_input_ids, self);
  }
  if (!r.inputs_without_id.empty() || !r.outputs_without_id.empty()) {
    out.count("input records without an id", static_cast<int64_t>(r.inputs_without_id.size()));
    out.items("input_without_id", r.inputs_without_id, unidentified);
    out.count("output records without an id", static_cast<int64_t>(r.outputs_without_id.size()));
    out.items("output_without_id", r.outputs_without_id, unidentified);
  }
  if (r.table) {
    const chaos::TableCheck& t = *r.table;
    out.heading("table " + args.table + " against " + args.expect);
    out.count("table records", t.records);
    out.count("table live keys", t.live_keys);
    out.count("table keys mismatched", static_cast<int64_t>(t.mismatched.size()));
    out.items("table_mismatched", t.mismatched, self);
    out.count("table keys missing", static_cast<int64_t>(t.missing.size()));
    out.items("table_missing", t.missing, self);
    out.count("table keys extra", static_cast<int64_t>(t.extra.size()));
    out.items("table_extra", t.extra, self);
    if (!t.split_keys.empty()) {
      out.count("table keys in several partitions", static_cast<int64_t>(t.split_keys.size()));
      out.items("table_split_key", t.split_keys, self);
    }
    if (!t.without_key.empty()) {
      out.count("table records without a key", static_cast<int64_t>(t.without_key.size()));
      out.items("table_without_key", t.without_key, unidentified);
    }
  }
  if (!result.notes.empty()) {
    out.heading("notes");
    out.items("note", result.notes, self);
  }
  const auto failures = r.failures(args.exactly_once);
  out.heading("verdict");
  out.items("failure", failures, self);
  out.item("result", failures.empty() ? "OK" : "NOT OK");
}

int run_verify(const VerifyArgs& args, const std::vector<std::string>& extras) {
  if (!extras.empty()) return usage_error("unexpected argument '" + extras.front() + "'");
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"--bootstrap", &args.bootstrap},
        {"--input", &args.input},
        {"--output", &args.output},
        {"--id", &args.id_field}}) {
    if (value->empty()) return usage_error(std::string(name) + " is required");
  }
  if (args.table.empty() != args.expect.empty()) {
    return usage_error("--table and --expect go together");
  }
  int64_t timeout_s = 0;
  auto [ptr, ec] =
      std::from_chars(args.timeout.data(), args.timeout.data() + args.timeout.size(), timeout_s);
  if (ec != std::errc() || ptr != args.timeout.data() + args.timeout.size() || timeout_s <= 0 ||
      timeout_s > 24 * 3600) {
    return usage_error("--timeout wants whole seconds between 1 and 86400, got '" + args.timeout +
                       "'");
  }

  chaos::TopicVerifyRequest request;
  request.bootstrap = args.bootstrap;
  request.input_topic = args.input;
  request.output_topic = args.output;
  request.id_field = args.id_field;
  request.read.read_committed = args.read_committed;
  request.read.timeout = std::chrono::seconds(timeout_s);
  if (!args.table.empty()) {
    std::ifstream file(args.expect);
    if (!file) return usage_error("cannot read --expect file '" + args.expect + "'");
    std::stringstream text;
    text << file.rdbuf();
    auto expected = chaos::parse_expected_table(text.str());
    if (!expected) return usage_error("--expect " + args.expect + ": " + expected.error().message);
    request.table_topic = args.table;
    request.expected_table = std::move(*expected);
  }

  auto result = chaos::verify_topics(request);
  if (!result) {
    std::cerr << "rivulet verify: " << result.error().to_string() << "\n";
    return kUsageOrConnection;
  }
  if (args.json) {
    auto j = chaos::report_json(result->report, args.exactly_once, kListed);
    j["notes"] = result->notes;
    std::cout << j.dump() << std::endl;
  } else {
    print_text(args, *result);
  }
  return result->report.ok(args.exactly_once) ? 0 : kNotOk;
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "verify",
      "Report the records lost or duplicated between an input and an output topic, and why");
  auto args = std::make_shared<VerifyArgs>();
  // Required options are checked in run_verify rather than by CLI11, so
  // that every usage error exits with status 2 (CLI11 has its own codes).
  cmd->add_option("--bootstrap", args->bootstrap, "Kafka bootstrap servers (required)");
  cmd->add_option("--input", args->input, "Input topic (required)");
  cmd->add_option("--output", args->output, "Output topic (required)");
  cmd->add_option("--id", args->id_field,
                  "Field of the JSON values identifying a record in both topics (required)");
  cmd->add_option("--table", args->table, "Table (changelog) topic whose final values to check");
  cmd->add_option("--expect", args->expect,
                  "JSON file {\"key\": value, ...}: every live key of --table and its final value");
  cmd->add_flag("--json", args->json, "Print the report as one JSON object");
  cmd->add_flag("--exactly-once", args->exactly_once,
                "Fail on any duplicate, even a replay explained by provenance");
  cmd->add_flag("--read-committed", args->read_committed,
                "Read with isolation.level=read_committed (default: read_uncommitted)");
  cmd->add_option("--timeout", args->timeout, "Seconds allowed to read each topic (default 60)");
  // Repeated options: the last one wins (scripts append overrides).
  for (auto* option : cmd->get_options()) {
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  cmd->allow_extras();
  cmd->callback([cmd, args] { exit_code = run_verify(*args, cmd->remaining()); });
}

}  // namespace rivulet::cli
