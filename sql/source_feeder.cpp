#include "sql/source_feeder.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "sql/test_driver.hpp"

namespace rivulet::sql {

struct SourceFeeder::State {
  FeedSource info;
  std::unique_ptr<SourceRowCodec> codec;         // poll()'s
  std::unique_ptr<SourceRowCodec> insert_codec;  // insert()'s, under inserts_mutex_
  // Files: what was seen last.
  bool seen = false;
  int64_t size = -1;
  int64_t mtime_ns = -1;
  bool missing_reported = false;
  // Stream files: bytes and lines consumed; restart bookkeeping.
  int64_t offset = 0;
  int64_t lines = 0;
  int64_t complete_through = 0;
  std::set<int64_t> present;
  // Table files: the rows the topic holds.
  std::map<std::string, std::string> rows;
};

SourceFeeder::~SourceFeeder() = default;

Expected<std::unique_ptr<SourceFeeder>> SourceFeeder::create(const Catalog& catalog,
                                                             const std::vector<std::string>& topics) {
  std::vector<SourceInfo> sources;
  for (SourceType type : {SourceType::Table, SourceType::Stream})
    for (const SourceInfo* s : catalog.list(type))
      if (topics.empty() || std::find(topics.begin(), topics.end(), s->topic) != topics.end())
        sources.push_back(*s);
  return create(sources);
}

Expected<std::unique_ptr<SourceFeeder>> SourceFeeder::create(const std::vector<SourceInfo>& sources) {
  std::unique_ptr<SourceFeeder> f(new SourceFeeder());
  for (const SourceInfo& s : sources) {
    if (s.source_kind == SourceKind::Kafka) continue;
    auto state = std::make_unique<State>();
    state->info = FeedSource{s.name, s.topic, s.source_kind, s.source_path, s.is_table(),
                             s.partitions > 0 ? s.partitions : 1};
    auto codec = SourceRowCodec::create(s);
    if (!codec) return Error::fatal(s.name + ": " + codec.error().message);
    state->codec = std::move(*codec);
    state->insert_codec = SourceRowCodec::create(s).value();
    f->sources_.push_back(state->info);
    f->states_.push_back(std::move(state));
  }
  return f;
}

SourceFeeder::State* SourceFeeder::find(const std::string& source) {
  for (auto& s : states_)
    if (s->info.name == source || s->info.topic == source) return s.get();
  return nullptr;
}

void SourceFeeder::restore_table(const std::string& topic, std::map<std::string, std::string> rows) {
  if (State* s = find(topic)) s->rows = std::move(rows);
}

void SourceFeeder::restore_stream(const std::string& topic, int64_t complete_through,
                                  std::set<int64_t> present) {
  if (State* s = find(topic)) {
    s->complete_through = complete_through;
    s->present = std::move(present);
  }
}

void SourceFeeder::bad(BadLine b) {
  ++bad_line_count_;
  bad_lines_.push_back(std::move(b));
  while (bad_lines_.size() > 100) bad_lines_.pop_front();
}

size_t SourceFeeder::poll(const Emit& emit, size_t max_records) {
  size_t emitted = 0;
  more_ = false;
  for (auto& s : states_) {
    if (s->info.kind != SourceKind::File) continue;
    if (s->info.table) {
      emitted += poll_table(*s, emit);
    } else {
      size_t budget = max_records == 0 ? SIZE_MAX : max_records - std::min(max_records, emitted);
      if (budget == 0) {
        more_ = true;
        continue;
      }
      emitted += poll_stream(*s, emit, budget);
    }
  }
  std::vector<std::pair<State*, EncodedRow>> rows;
  {
    std::lock_guard<std::mutex> lock(inserts_mutex_);
    rows.swap(inserts_);
  }
  for (auto& [s, row] : rows) {
    emit(FeedRecord{s->info.name, s->info.topic, std::move(row.key), std::move(row.value),
                    s->info.kind == SourceKind::Memory ? "memory://" + s->info.path : s->info.path,
                    0});
    ++emitted;
  }
  return emitted;
}

size_t SourceFeeder::poll_stream(State& s, const Emit& emit, size_t budget) {
  struct stat st{};
  if (::stat(s.info.path.c_str(), &st) != 0) {
    if (!s.missing_reported)
      warnings_.push_back(s.info.path + ": the file of stream " + s.info.name +
                          " cannot be read; waiting for it");
    s.missing_reported = true;
    return 0;
  }
  s.missing_reported = false;
  if (st.st_size < s.offset) {
    if (st.st_size != s.size)
      warnings_.push_back(s.info.path + ": the file of stream " + s.info.name + " shrank to " +
                          std::to_string(st.st_size) + " bytes; reading goes on after byte " +
                          std::to_string(s.offset) + " (a stream file is append-only)");
    s.size = st.st_size;
    return 0;
  }
  s.size = st.st_size;
  if (st.st_size == s.offset) return 0;
  std::ifstream in(s.info.path, std::ios::binary);
  if (!in) return 0;
  in.seekg(s.offset);
  size_t emitted = 0;
  std::string line;
  while (emitted < budget && std::getline(in, line)) {
    if (in.eof()) break;  // no '\n' yet: the line is not complete
    s.offset += static_cast<int64_t>(line.size()) + 1;
    int64_t n = ++s.lines;
    if (n == 1 && s.codec->is_header(line)) continue;
    bool written = n <= s.complete_through || s.present.count(n) > 0;
    auto row = s.codec->encode_line(line);
    if (!row) {
      if (!written) bad(BadLine{s.info.path, n, row.error().message, line.substr(0, 200)});
      continue;
    }
    if (!*row || written) continue;
    emit(FeedRecord{s.info.name, s.info.topic, std::move((*row)->key), std::move((*row)->value),
                    s.info.path, n});
    ++emitted;
  }
  if (emitted >= budget && s.offset < st.st_size) more_ = true;
  if (!s.present.empty() && s.lines >= *s.present.rbegin()) s.present.clear();
  return emitted;
}

size_t SourceFeeder::poll_table(State& s, const Emit& emit) {
  struct stat st{};
  if (::stat(s.info.path.c_str(), &st) != 0) {
    if (!s.missing_reported)
      warnings_.push_back(s.info.path + ": the file of table " + s.info.name +
                          " cannot be read; the table keeps its rows until it is back");
    s.missing_reported = true;
    return 0;
  }
  s.missing_reported = false;
  int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (s.seen && st.st_size == s.size && mtime_ns == s.mtime_ns) return 0;
  auto file = read_table_file(s.info.path, *s.codec);
  if (!file) {
    warnings_.push_back(file.error().message);
    return 0;
  }
  s.seen = true;
  s.size = st.st_size;
  s.mtime_ns = mtime_ns;
  for (auto& b : file->bad_lines) bad(std::move(b));
  auto changes = diff_tables(s.rows, file->rows);
  for (auto& c : changes)
    emit(FeedRecord{s.info.name, s.info.topic, std::move(c.key), std::move(c.value), s.info.path, 0});
  s.rows = std::move(file->rows);
  return changes.size();
}

Expected<bool> SourceFeeder::insert(const std::string& source, const Value& row) {
  State* s = find(source);
  if (!s) return Error::fatal("no file or memory source named " + source);
  std::lock_guard<std::mutex> lock(inserts_mutex_);
  auto encoded = s->insert_codec->encode_row(row);
  if (!encoded) return Error::data(source + ": " + encoded.error().message);
  inserts_.emplace_back(s, std::move(*encoded));
  return true;
}

Expected<bool> SourceFeeder::insert_line(const std::string& source, std::string_view line) {
  State* s = find(source);
  if (!s) return Error::fatal("no file or memory source named " + source);
  std::lock_guard<std::mutex> lock(inserts_mutex_);
  auto encoded = s->insert_codec->encode_line(line);
  if (!encoded) return Error::data(source + ": " + encoded.error().message);
  if (*encoded) inserts_.emplace_back(s, std::move(**encoded));
  return true;
}

size_t pipe_sources(TestDriver& driver, SourceFeeder& feeder, int64_t timestamp) {
  size_t piped = 0;
  do {
    piped += feeder.poll(
        [&](FeedRecord&& r) { driver.pipe(r.topic, std::move(r.key), std::move(r.value), timestamp); },
        0);
  } while (feeder.more());
  return piped;
}

}  // namespace rivulet::sql
