#include "chaos/verifier.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace rivulet::chaos {

namespace {

// Compares as JSON when both parse (so key order and spacing do not
// matter), else as text.
bool same_json(const std::string& a, const std::string& b) {
  auto ja = nlohmann::json::parse(a, nullptr, false);
  auto jb = nlohmann::json::parse(b, nullptr, false);
  if (ja.is_discarded() || jb.is_discarded()) return a == b;
  return ja == jb;
}

DuplicateReport judge(const std::string& id, std::vector<OutputRecordInfo> copies) {
  DuplicateReport d;
  d.id = id;
  d.copies = std::move(copies);
  const auto& first = d.copies.front();
  for (const auto& c : d.copies) {
    if (!c.input || !c.task || !c.epoch) {
      d.explanation = "a copy at " + c.tp.to_string() + "@" + std::to_string(c.offset) +
                      " has no provenance headers";
      return d;
    }
  }
  std::set<std::string> epochs;
  for (const auto& c : d.copies) {
    if (*c.input != *first.input) {
      d.explanation = "copies come from different input records (" + *first.input + " and " +
                      *c.input + "): the input itself holds the id twice, or the output is wrong";
      return d;
    }
    if (*c.task != *first.task) {
      d.explanation = "copies come from different tasks (" + *first.task + " and " + *c.task + ")";
      return d;
    }
    if (!epochs.insert(*c.epoch).second) {
      d.explanation = "two copies from the same epoch " + *c.epoch + " of task " + *c.task +
                      ": written twice by one incarnation";
      return d;
    }
  }
  d.explained = true;
  d.explanation = "replay of input " + *first.input + " by " + std::to_string(epochs.size()) +
                  " incarnations of task " + *first.task + " (a restore re-processed it)";
  return d;
}

}  // namespace

bool VerifyReport::ok(bool exactly_once) const {
  if (!missing_ids.empty() || !unexpected_ids.empty()) return false;
  if (exactly_once ? !duplicates.empty() : unexplained_duplicates > 0) return false;
  return !table.requested || table.ok();
}

VerifyReport verify(const std::vector<InputRecord>& inputs,
                    const std::vector<OutputRecordInfo>& outputs) {
  VerifyReport r;
  r.input_records = static_cast<int64_t>(inputs.size());
  r.output_records = static_cast<int64_t>(outputs.size());
  std::set<std::string> input_ids;
  for (const auto& in : inputs) input_ids.insert(in.id);
  std::map<std::string, std::vector<OutputRecordInfo>> by_id;
  for (const auto& out : outputs) by_id[out.id].push_back(out);
  r.distinct_output_ids = static_cast<int64_t>(by_id.size());
  for (const auto& id : input_ids) {
    if (!by_id.count(id)) r.missing_ids.push_back(id);
  }
  for (auto& [id, copies] : by_id) {
    if (!input_ids.count(id)) r.unexpected_ids.push_back(id);
    if (copies.size() < 2) continue;
    r.duplicates.push_back(judge(id, copies));
    if (!r.duplicates.back().explained) ++r.unexplained_duplicates;
  }
  return r;
}

TableCheck check_table(const std::vector<TableRecord>& records,
                       const std::map<std::string, std::string>& expected) {
  TableCheck t;
  t.requested = true;
  std::map<std::string, std::string> final_values;
  for (const auto& rec : records) {
    if (rec.value) {
      final_values[rec.key] = *rec.value;
    } else {
      final_values.erase(rec.key);
    }
  }
  for (const auto& [key, want] : expected) {
    auto it = final_values.find(key);
    if (it == final_values.end()) {
      t.missing.push_back(key);
    } else if (!same_json(it->second, want)) {
      t.mismatched.push_back(key + ": expected " + want + ", got " + it->second);
    }
  }
  for (const auto& [key, value] : final_values) {
    if (!expected.count(key)) t.extra.push_back(key);
  }
  return t;
}

}  // namespace rivulet::chaos
