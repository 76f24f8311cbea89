#pragma once
// Checkpoints as files under `state.dir`:
//
//   <state.dir>/<task>/<checkpoint id, 20 digits>.ckpt
//   e.g. state/q1-3/00000000000000000042.ckpt
//
// A write goes to a temporary file in the same directory
// (`<id>.ckpt.tmp.<pid>`), which is fsynced, renamed over the final name, and
// then the directory is fsynced: a reader sees either the whole new checkpoint
// or none of it, and once write() returns the checkpoint survives a power
// loss. Temporary files are never listed; open() deletes those left by
// processes that died mid-write.
//
// Crash tests: with the environment variable RIVULET_FAULT set to
// `checkpoint-after-tmp` the process SIGKILLs itself right after the
// temporary file is fsynced (before the rename); with
// `checkpoint-after-rename`, right after the rename.
//
// Ownership and threads: as CheckpointStore. Several processes may share one
// state directory (a single-machine cluster) as long as each task is written
// by one owner at a time.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/store.hpp"

namespace rivulet::checkpoint {

class DirectoryStore final : public CheckpointStore {
 public:
  // Opens `root`, creating it if needed, and deletes temporary files whose
  // writer is gone (its pid is not running, or is this process's own).
  static Expected<std::unique_ptr<DirectoryStore>> open(const std::string& root);

  Expected<uint64_t> write(const Snapshot& snapshot) override;
  Expected<std::vector<CheckpointId>> list(const TaskId& task) override;
  Expected<Snapshot> read(const TaskId& task, CheckpointId id) override;
  Expected<bool> remove(const TaskId& task, CheckpointId id) override;

  const std::string& root() const { return root_; }
  std::string task_dir(const TaskId& task) const;
  std::string file_path(const TaskId& task, CheckpointId id) const;
  // Temporary files deleted by open(), for its log line and tests.
  std::size_t cleaned_temp_files() const { return cleaned_temp_files_; }

 private:
  explicit DirectoryStore(std::string root) : root_(std::move(root)) {}
  Expected<bool> clean_temp_files();

  const std::string root_;
  std::size_t cleaned_temp_files_ = 0;
};

// "00000000000000000042.ckpt"
std::string checkpoint_file_name(CheckpointId id);
// The id in a checkpoint file name, or nothing for any other name (temporary
// files included).
std::optional<CheckpointId> parse_checkpoint_file_name(const std::string& name);

}  // namespace rivulet::checkpoint
