#include "chaos/verifier.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace rivulet::chaos {

namespace {

std::string at_text(const TopicPartition& tp, int64_t offset) {
  return tp.to_string() + "@" + std::to_string(offset);
}

std::string at_text(const OutputRecordInfo& c) {
  return at_text(c.tp, c.offset);
}

// Long values would drown a report line.
std::string clip(const std::string& s, size_t limit = 120) {
  return s.size() <= limit ? s : s.substr(0, limit) + "...";
}

// An explained replay whose older epoch's copy sits after a newer epoch's
// copy in the same partition: the older incarnation was still writing after
// the newer one had started. Still a replay, but worth saying.
std::string late_writer_note(const std::vector<OutputRecordInfo>& copies) {
  std::map<TopicPartition, std::vector<const OutputRecordInfo*>> by_partition;
  for (const auto& c : copies) by_partition[c.tp].push_back(&c);
  for (auto& [tp, list] : by_partition) {
    std::sort(list.begin(), list.end(),
              [](const auto* a, const auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < list.size(); ++i) {
      if (*list[i]->epoch < *list[i - 1]->epoch) {
        return "; note: epoch " + std::to_string(list[i]->epoch->value()) + "'s copy at " +
               at_text(*list[i]) + " comes after epoch " +
               std::to_string(list[i - 1]->epoch->value()) +
               "'s: the older incarnation still wrote after the newer one started";
      }
    }
  }
  return "";
}

bool values_match(const std::string& actual, const std::string& expected) {
  auto want = nlohmann::json::parse(expected, nullptr, false);
  if (want.is_discarded()) return actual == expected;
  auto got = nlohmann::json::parse(actual, nullptr, false);
  if (got.is_discarded()) return want.is_string() && want.get<std::string>() == actual;
  return got == want;
}

nlohmann::json listed(const std::vector<std::string>& items, size_t max_listed,
                      const char* name = "ids") {
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < items.size() && i < max_listed; ++i) list.push_back(items[i]);
  return {{"count", items.size()}, {name, list}};
}

nlohmann::json listed(const std::vector<Unidentified>& items, size_t max_listed) {
  nlohmann::json records = nlohmann::json::array();
  for (size_t i = 0; i < items.size() && i < max_listed; ++i) {
    records.push_back({{"at", at_text(items[i].tp, items[i].offset)}, {"reason", items[i].reason}});
  }
  return {{"count", items.size()}, {"records", records}};
}

nlohmann::json optional_json(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

}  // namespace

std::string position_text(const TopicPartition& tp, int64_t offset) {
  return tp.topic + ":" + std::to_string(tp.partition.value()) + ":" + std::to_string(offset);
}

DuplicateReport judge_duplicate(const std::string& id, std::vector<OutputRecordInfo> copies) {
  DuplicateReport d;
  d.id = id;
  d.copies = std::move(copies);
  auto unexplained = [&d](std::string why) {
    d.explained = false;
    d.explanation = std::move(why);
    return d;
  };
  if (d.copies.size() < 2) return unexplained("not a duplicate: one copy");
  for (const auto& c : d.copies) {
    if (!c.input || !c.task) {
      return unexplained("the copy at " + at_text(c) + " has no provenance (" +
                         (c.input ? "rivulet.task" : "rivulet.input") +
                         " header missing): it cannot be traced to an input record");
    }
  }
  const OutputRecordInfo& first = d.copies.front();
  for (const auto& c : d.copies) {
    if (*c.input != *first.input) {
      return unexplained("the copies come from different input records (" + *first.input + " at " +
                         at_text(first) + ", " + *c.input + " at " + at_text(c) +
                         "): not a replay of one record");
    }
    if (*c.task != *first.task) {
      return unexplained("one input record " + *first.input + " was processed by two tasks (" +
                         *first.task + " at " + at_text(first) + ", " + *c.task + " at " +
                         at_text(c) + ")");
    }
  }
  std::map<Epoch, const OutputRecordInfo*> by_epoch;
  for (const auto& c : d.copies) {
    if (!c.epoch) {
      return unexplained("the copy at " + at_text(c) +
                         " has no valid rivulet.epoch header: a replay cannot be told from a "
                         "double write");
    }
    auto [it, fresh] = by_epoch.emplace(*c.epoch, &c);
    if (!fresh) {
      return unexplained("two copies from the same epoch " + std::to_string(c.epoch->value()) +
                         " of task " + *c.task + " (at " + at_text(*it->second) + " and " +
                         at_text(c) + "): one incarnation wrote the record twice");
    }
  }
  std::string epochs;
  for (const auto& [epoch, copy] : by_epoch) {
    epochs += (epochs.empty() ? "" : ", ") + std::to_string(epoch.value());
  }
  d.explained = true;
  d.explanation = "replay: input " + *first.input + " was processed by task " + *first.task +
                  " in epochs " + epochs +
                  " (a restored incarnation re-processed input already turned into output)" +
                  late_writer_note(d.copies);
  return d;
}

VerifyReport verify(const std::vector<InputRecord>& inputs,
                    const std::vector<OutputRecordInfo>& outputs, const VerifyOptions& options) {
  VerifyReport r;
  r.inputs_without_id = options.inputs_without_id;
  r.outputs_without_id = options.outputs_without_id;
  r.input_records = static_cast<int64_t>(inputs.size() + options.inputs_without_id.size());
  r.output_records = static_cast<int64_t>(outputs.size() + options.outputs_without_id.size());

  std::unordered_map<std::string, int64_t> input_count;
  input_count.reserve(inputs.size());
  for (const auto& in : inputs) {
    if (++input_count[in.id] == 2) r.repeated_input_ids.push_back(in.id);
  }

  // Output copies per id, ids in the order of their first copy.
  std::unordered_map<std::string, std::vector<OutputRecordInfo>> by_id;
  std::vector<std::string> output_order;
  by_id.reserve(outputs.size());
  for (const auto& out : outputs) {
    auto& copies = by_id[out.id];
    if (copies.empty()) output_order.push_back(out.id);
    copies.push_back(out);
  }
  r.distinct_output_ids = static_cast<int64_t>(by_id.size());

  std::unordered_set<std::string> reported_missing;
  for (const auto& in : inputs) {
    if (!by_id.count(in.id) && reported_missing.insert(in.id).second) {
      r.missing_ids.push_back(in.id);
    }
  }
  for (const auto& id : output_order) {
    if (!input_count.count(id)) r.unexpected_ids.push_back(id);
    auto& copies = by_id[id];
    if (copies.size() < 2) continue;
    DuplicateReport d = judge_duplicate(id, std::move(copies));
    if (!d.explained) {
      auto repeated = input_count.find(id);
      if (repeated != input_count.end() && repeated->second > 1) {
        d.explanation +=
            "; the input itself holds this id " + std::to_string(repeated->second) + " times";
      }
    }
    ++(d.explained ? r.explained_duplicates : r.unexplained_duplicates);
    r.duplicates.push_back(std::move(d));
  }
  if (options.table) r.table = check_table(*options.table);
  return r;
}

std::vector<std::string> VerifyReport::failures(bool exactly_once) const {
  std::vector<std::string> why;
  auto count = [](size_t n, const char* what) { return std::to_string(n) + " " + what; };
  if (!missing_ids.empty()) why.push_back(count(missing_ids.size(), "ids missing (lost)"));
  if (!unexpected_ids.empty()) {
    why.push_back(count(unexpected_ids.size(), "ids in the output that the input does not hold"));
  }
  if (!inputs_without_id.empty()) {
    why.push_back(count(inputs_without_id.size(), "input records without an id"));
  }
  if (!outputs_without_id.empty()) {
    why.push_back(count(outputs_without_id.size(), "output records without an id"));
  }
  if (unexplained_duplicates > 0) {
    why.push_back(count(static_cast<size_t>(unexplained_duplicates), "unexplained duplicates"));
  }
  if (exactly_once && explained_duplicates > 0) {
    why.push_back(count(static_cast<size_t>(explained_duplicates),
                        "duplicates (replays), and --exactly-once allows none"));
  }
  if (table && !table->ok()) why.push_back("the table's final values differ from the expectation");
  return why;
}

bool VerifyReport::ok(bool exactly_once) const {
  return failures(exactly_once).empty();
}

TableCheck check_table(const TableInput& table) {
  TableCheck t;
  t.records = static_cast<int64_t>(table.records.size());
  std::vector<const TableRecord*> ordered;
  ordered.reserve(table.records.size());
  for (const auto& rec : table.records) ordered.push_back(&rec);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return a->tp < b->tp || (a->tp == b->tp && a->offset < b->offset);
  });
  struct Final {
    TopicPartition tp;
    std::optional<std::string> value;
  };
  std::map<std::string, Final> finals;
  std::set<std::string> split;
  for (const auto* rec : ordered) {
    if (!rec->key) {
      t.without_key.push_back({rec->tp, rec->offset, "a table record without a key"});
      continue;
    }
    auto [it, fresh] = finals.emplace(*rec->key, Final{rec->tp, rec->value});
    if (fresh) continue;
    // A key in two partitions has no "last" record: the partitions' orders
    // are unrelated.
    if (!(it->second.tp == rec->tp) && split.insert(*rec->key).second) {
      t.split_keys.push_back(*rec->key + " (in " + it->second.tp.to_string() + " and " +
                             rec->tp.to_string() + ")");
    }
    it->second = Final{rec->tp, rec->value};
  }
  for (const auto& [key, want] : table.expected) {
    auto it = finals.find(key);
    if (it == finals.end() || !it->second.value) {
      t.missing.push_back(key);
    } else if (!values_match(*it->second.value, want)) {
      t.mismatched.push_back(key + ": expected " + clip(want) + ", got " + clip(*it->second.value));
    }
  }
  for (const auto& [key, final_value] : finals) {
    if (!final_value.value) continue;
    ++t.live_keys;
    if (!table.expected.count(key)) t.extra.push_back(key);
  }
  return t;
}

Expected<std::map<std::string, std::string>> parse_expected_table(const std::string& text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Error::data(std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) {
    return Error::data(std::string("expected one JSON object {\"key\": value, ...}, got ") +
                       doc.type_name());
  }
  std::map<std::string, std::string> expected;
  for (const auto& [key, value] : doc.items()) expected[key] = value.dump();
  return expected;
}

nlohmann::json report_json(const VerifyReport& report, bool exactly_once, size_t max_listed) {
  // Unexplained duplicates first: they are the ones to look at.
  std::vector<const DuplicateReport*> examples;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& d : report.duplicates) {
      if (examples.size() >= max_listed) break;
      if (d.explained == (pass == 1)) examples.push_back(&d);
    }
  }
  nlohmann::json example_list = nlohmann::json::array();
  for (const auto* d : examples) {
    nlohmann::json copies = nlohmann::json::array();
    for (const auto& c : d->copies) {
      copies.push_back({{"at", at_text(c)},
                        {"input", optional_json(c.input)},
                        {"task", optional_json(c.task)},
                        {"epoch", c.epoch ? nlohmann::json(c.epoch->value()) : nullptr}});
    }
    example_list.push_back({{"id", d->id},
                            {"copies", copies},
                            {"explained", d->explained},
                            {"explanation", d->explanation}});
  }
  nlohmann::json j = {{"input_records", report.input_records},
                      {"output_records", report.output_records},
                      {"distinct_output_ids", report.distinct_output_ids},
                      {"missing", listed(report.missing_ids, max_listed)},
                      {"unexpected", listed(report.unexpected_ids, max_listed)},
                      {"repeated_input_ids", listed(report.repeated_input_ids, max_listed)},
                      {"without_id",
                       {{"input", listed(report.inputs_without_id, max_listed)},
                        {"output", listed(report.outputs_without_id, max_listed)}}},
                      {"duplicates",
                       {{"count", report.duplicates.size()},
                        {"explained", report.explained_duplicates},
                        {"unexplained", report.unexplained_duplicates},
                        {"examples", example_list}}},
                      {"exactly_once", exactly_once},
                      {"failures", report.failures(exactly_once)},
                      {"ok", report.ok(exactly_once)}};
  if (report.table) {
    const TableCheck& t = *report.table;
    j["table"] = {{"ok", t.ok()},
                  {"records", t.records},
                  {"live_keys", t.live_keys},
                  {"mismatched", listed(t.mismatched, max_listed, "items")},
                  {"missing", listed(t.missing, max_listed, "keys")},
                  {"extra", listed(t.extra, max_listed, "keys")},
                  {"split_keys", listed(t.split_keys, max_listed, "items")},
                  {"without_key", listed(t.without_key, max_listed)}};
  }
  return j;
}

}  // namespace rivulet::chaos
