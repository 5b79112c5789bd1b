// Durable, atomic file-system writes: what checkpoints and the exactly-once
// file sink stand on. A reader sees either the old state or the complete new
// one, never a torn write, even if the process is killed mid-way.
#pragma once

#include <string>

namespace trib {

// Writes `content` to `path` atomically: temporary file, fsync, rename,
// fsync of the directory. Throws std::runtime_error naming the path.
void write_file_durably(const std::string& path, const std::string& content);

// Writes `content` to `path` and fsyncs it (no rename: for files inside a
// directory that is itself committed by rename).
void write_file_synced(const std::string& path, const std::string& content);

// fsyncs a directory, so the names created in it (a new file) survive a
// power loss. Throws std::runtime_error naming the path.
void sync_directory(const std::string& path);

// Creates the directory and its parents if needed.
void make_directories(const std::string& path);

// Atomically publishes directory `from` as `to` (rename + fsync of the
// parent). Returns false, leaving `to` untouched, if `to` already exists.
bool commit_directory(const std::string& from, const std::string& to);

// Removes a directory tree if it exists.
void remove_tree(const std::string& path);

bool path_exists(const std::string& path);

// The whole of the regular file `path`. Throws std::runtime_error naming it
// as `noun` ("checkpoint", "write-ahead log", ...) when it is not a regular
// file (a directory in its place) or cannot be read (permissions): read as
// empty, what it held would be lost without a word.
std::string read_whole_file(const std::string& path, const std::string& noun);

}  // namespace trib
