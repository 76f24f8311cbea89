#pragma once
// Checkpoints as files under `state.dir`:
//
//   <state.dir>/<task>/<checkpoint id, 20 digits>.ckpt              a full snapshot
//   <state.dir>/<task>/<id, 20 digits>.delta-<parent, 20 digits>.ckpt  an incremental one
//   e.g. state/q1-3/00000000000000000042.ckpt
//        state/q1-3/00000000000000000043.delta-00000000000000000042.ckpt
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
  Expected<std::vector<ChainLink>> list_links(const TaskId& task) override;

  const std::string& root() const { return root_; }
  std::string task_dir(const TaskId& task) const;
  // The path of a full snapshot (file_path) or of any listed link.
  std::string file_path(const TaskId& task, CheckpointId id) const;
  std::string file_path(const TaskId& task, const ChainLink& link) const;
  // Temporary files deleted by open(), for its log line and tests.
  std::size_t cleaned_temp_files() const { return cleaned_temp_files_; }

 private:
  explicit DirectoryStore(std::string root) : root_(std::move(root)) {}
  Expected<bool> clean_temp_files();
  // The listed link with this id (its file name says whether it is a delta).
  Expected<std::optional<ChainLink>> find_link(const TaskId& task, CheckpointId id);

  const std::string root_;
  std::size_t cleaned_temp_files_ = 0;
};

// "00000000000000000042.ckpt"
std::string checkpoint_file_name(CheckpointId id);
// "00000000000000000043.delta-00000000000000000042.ckpt" for a delta.
std::string checkpoint_file_name(const ChainLink& link);
// The id in a full checkpoint's file name, or nothing for any other name
// (temporary files and deltas included).
std::optional<CheckpointId> parse_checkpoint_file_name(const std::string& name);
// The link a checkpoint file name (full or delta) stands for, or nothing.
std::optional<ChainLink> parse_checkpoint_link_name(const std::string& name);

}  // namespace rivulet::checkpoint
