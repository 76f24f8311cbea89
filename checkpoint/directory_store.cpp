#include "checkpoint/directory_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "checkpoint/store_checks.hpp"
#include "runtime/log.hpp"

namespace rivulet::checkpoint {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSuffix = ".ckpt";
constexpr std::string_view kTempMarker = ".ckpt.tmp.";
constexpr std::size_t kIdDigits = 20;
constexpr std::string_view kDeltaMarker = ".delta-";

Error io_error(const std::string& what, const std::string& path, int err) {
  return Error::retriable(what + " " + path + ": " + std::generic_category().message(err));
}

Expected<bool> fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("opening directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("fsyncing directory", dir, err);
  return true;
}

// Creates `dir` (and missing parents) and makes its entry durable in its
// parent, so that a checkpoint written into it is found after a power loss.
Expected<bool> ensure_dir(const std::string& dir) {
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (ec) return io_error("creating directory", dir, ec.value());
  if (created) {
    const fs::path parent = fs::absolute(fs::path(dir), ec).parent_path();
    if (ec) return io_error("resolving directory", dir, ec.value());
    return fsync_dir(parent.string());
  }
  return true;
}

Expected<bool> write_file_durably(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("creating", path, errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return io_error("writing", path, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error("fsyncing", path, err);
  }
  if (::close(fd) != 0) return io_error("closing", path, errno);
  return true;
}

// Reads the whole file; a missing file is reported with errno ENOENT in
// `missing` so the caller can tell it from an I/O failure.
Expected<std::string> read_file(const std::string& path, bool& missing) {
  missing = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    missing = errno == ENOENT;
    return io_error("opening", path, errno);
  }
  std::string bytes;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) bytes.reserve(static_cast<std::size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return io_error("reading", path, err);
    }
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return bytes;
}

bool writer_is_gone(std::string_view pid_text) {
  int pid = 0;
  const auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (ec != std::errc() || end != pid_text.data() + pid_text.size() || pid <= 0) return true;
  if (pid == ::getpid()) return true;  // an earlier incarnation that had our pid
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string checkpoint_file_name(CheckpointId id) {
  std::string digits = std::to_string(id.value());
  return std::string(kIdDigits - std::min(kIdDigits, digits.size()), '0') + digits +
         std::string(kSuffix);
}

std::optional<CheckpointId> parse_checkpoint_file_name(const std::string& name) {
  if (name.size() != kIdDigits + kSuffix.size()) return std::nullopt;
  if (name.compare(kIdDigits, kSuffix.size(), kSuffix) != 0) return std::nullopt;
  int64_t id = 0;
  const char* first = name.data();
  const char* last = name.data() + kIdDigits;
  for (const char* p = first; p != last; ++p) {
    if (*p < '0' || *p > '9') return std::nullopt;
  }
  const auto [end, ec] = std::from_chars(first, last, id);
  if (ec != std::errc() || end != last) return std::nullopt;  // beyond int64
  return CheckpointId(id);
}

std::string checkpoint_file_name(const ChainLink& link) {
  if (!link.parent) return checkpoint_file_name(link.id);
  std::string id = checkpoint_file_name(link.id);
  id.resize(kIdDigits);
  return id + std::string(kDeltaMarker) + checkpoint_file_name(*link.parent);
}

std::optional<ChainLink> parse_checkpoint_link_name(const std::string& name) {
  if (auto id = parse_checkpoint_file_name(name)) return ChainLink{*id, std::nullopt};
  if (name.size() != kIdDigits + kDeltaMarker.size() + kIdDigits + kSuffix.size() ||
      name.compare(kIdDigits, kDeltaMarker.size(), kDeltaMarker) != 0) {
    return std::nullopt;
  }
  auto id = parse_checkpoint_file_name(name.substr(0, kIdDigits) + std::string(kSuffix));
  auto parent = parse_checkpoint_file_name(name.substr(kIdDigits + kDeltaMarker.size()));
  if (!id || !parent) return std::nullopt;
  return ChainLink{*id, *parent};
}

Expected<std::unique_ptr<DirectoryStore>> DirectoryStore::open(const std::string& root) {
  if (root.empty()) return Error::fatal("state.dir is empty");
  auto created = ensure_dir(root);
  if (!created) return created.error();
  std::unique_ptr<DirectoryStore> store(new DirectoryStore(root));
  auto cleaned = store->clean_temp_files();
  if (!cleaned) return cleaned.error();
  if (store->cleaned_temp_files_ > 0) {
    logger()->info("checkpoint store {}: removed {} temporary file(s) left by interrupted writes",
                   root, store->cleaned_temp_files_);
  }
  return store;
}

Expected<bool> DirectoryStore::clean_temp_files() {
  std::error_code ec;
  for (fs::directory_iterator task_it(root_, ec), end; !ec && task_it != end;
       task_it.increment(ec)) {
    std::error_code type_ec;
    if (!task_it->is_directory(type_ec)) continue;
    std::error_code file_ec;
    for (fs::directory_iterator it(task_it->path(), file_ec); !file_ec && it != end;
         it.increment(file_ec)) {
      const std::string name = it->path().filename().string();
      const auto marker = name.find(kTempMarker);
      if (marker == std::string::npos) continue;
      if (!writer_is_gone(std::string_view(name).substr(marker + kTempMarker.size()))) continue;
      std::error_code rm_ec;
      if (fs::remove(it->path(), rm_ec)) ++cleaned_temp_files_;
      if (rm_ec) return io_error("removing", it->path().string(), rm_ec.value());
    }
    if (file_ec) return io_error("listing", task_it->path().string(), file_ec.value());
  }
  if (ec) return io_error("listing", root_, ec.value());
  return true;
}

std::string DirectoryStore::task_dir(const TaskId& task) const {
  return (fs::path(root_) / task.to_string()).string();
}

std::string DirectoryStore::file_path(const TaskId& task, CheckpointId id) const {
  return (fs::path(root_) / task.to_string() / checkpoint_file_name(id)).string();
}

std::string DirectoryStore::file_path(const TaskId& task, const ChainLink& link) const {
  return (fs::path(root_) / task.to_string() / checkpoint_file_name(link)).string();
}

Expected<std::optional<ChainLink>> DirectoryStore::find_link(const TaskId& task,
                                                             CheckpointId id) {
  // A full snapshot is the common case: one stat instead of a listing.
  struct stat st {};
  if (::stat(file_path(task, id).c_str(), &st) == 0) return std::optional<ChainLink>(ChainLink{id, std::nullopt});
  auto links = list_links(task);
  if (!links) return links.error();
  for (const auto& link : *links) {
    if (link.id == id) return std::optional<ChainLink>(link);
  }
  return std::optional<ChainLink>();
}

Expected<uint64_t> DirectoryStore::write(const Snapshot& snapshot) {
  auto valid = check_task(snapshot.task, "a checkpoint directory name");
  if (!valid) return valid.error();
  if (snapshot.id.value() < 0) {
    return Error::fatal("checkpoint id " + std::to_string(snapshot.id.value()) +
                        " is negative; ids start at 1");
  }
  auto encodable = check_encodable(snapshot);
  if (!encodable) return encodable.error();
  const std::string dir = task_dir(snapshot.task);
  auto dir_ok = ensure_dir(dir);
  if (!dir_ok) return dir_ok.error();

  const std::string bytes = encode(snapshot);
  const std::string final_path =
      snapshot.incremental
          ? file_path(snapshot.task, ChainLink{snapshot.id, snapshot.base})
          : file_path(snapshot.task, snapshot.id);
  const std::string temp_path = final_path + ".tmp." + std::to_string(::getpid());
  auto written = write_file_durably(temp_path, bytes);
  if (!written) {
    ::unlink(temp_path.c_str());
    return written.error();
  }
  fault_point("checkpoint-after-tmp");
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_path.c_str());
    return io_error("renaming " + temp_path + " to", final_path, err);
  }
  fault_point("checkpoint-after-rename");
  auto synced = fsync_dir(dir);
  if (!synced) return synced.error();
  return static_cast<uint64_t>(bytes.size());
}

Expected<std::vector<CheckpointId>> DirectoryStore::list(const TaskId& task) {
  auto links = list_links(task);
  if (!links) return links.error();
  std::vector<CheckpointId> ids;
  for (const auto& link : *links) ids.push_back(link.id);
  return ids;
}

Expected<std::vector<ChainLink>> DirectoryStore::list_links(const TaskId& task) {
  auto valid = check_task(task, "a checkpoint directory name");
  if (!valid) return valid.error();
  const std::string dir = task_dir(task);
  std::vector<ChainLink> links;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec == std::errc::no_such_file_or_directory) return links;
  for (; !ec && it != end; it.increment(ec)) {
    if (auto link = parse_checkpoint_link_name(it->path().filename().string())) {
      links.push_back(*link);
    }
  }
  if (ec) return io_error("listing", dir, ec.value());
  // Newest first; two files claiming one id (a full one and a delta) both
  // stay listed, the full one first.
  std::sort(links.begin(), links.end(), [](const ChainLink& a, const ChainLink& b) {
    return b.id < a.id || (a.id == b.id && !a.parent && b.parent);
  });
  return links;
}

Expected<Snapshot> DirectoryStore::read(const TaskId& task, CheckpointId id) {
  auto valid = check_task(task, "a checkpoint directory name");
  if (!valid) return valid.error();
  auto link = find_link(task, id);
  if (!link) return link.error();
  const std::string path = *link ? file_path(task, **link) : file_path(task, id);
  bool missing = false;
  auto bytes = read_file(path, missing);
  if (!bytes) {
    if (missing) return Error::data(path + ": no such checkpoint");
    return bytes.error();
  }
  auto snapshot = decode(*bytes);
  if (!snapshot) return Error::data(path + ": " + snapshot.error().message);
  // A file copied or renamed by hand must not restore another task's state.
  if (snapshot->task != task || snapshot->id != id) {
    return Error::data(path + ": holds checkpoint " + std::to_string(snapshot->id.value()) +
                       " of task " + snapshot->task.to_string() + ", not checkpoint " +
                       std::to_string(id.value()) + " of task " + task.to_string());
  }
  return snapshot;
}

Expected<bool> DirectoryStore::remove(const TaskId& task, CheckpointId id) {
  auto valid = check_task(task, "a checkpoint directory name");
  if (!valid) return valid.error();
  auto link = find_link(task, id);
  if (!link) return link.error();
  if (!*link) return true;
  const std::string path = file_path(task, **link);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("removing", path, errno);
  return true;
}

}  // namespace rivulet::checkpoint
