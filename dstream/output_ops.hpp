// DStream output operations: print, foreachRDD, saveAsTextFiles. Included
// by dstream/dstream.hpp.
//
// Each adds an output node; the runtime calls its emit function in the sink
// actor once per batch, in batch order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "dstream/core/format.hpp"
#include "dstream/dstream.hpp"
#include "dstream/nodes.hpp"
#include "io/text_file_sink.hpp"

namespace trib {

// Prints the first n records of every batch in Spark's pprint format.
template <class T>
void DStream<T>::print(std::size_t n) const {
  std::ostream* out = job_->settings.print_out;
  auto node = std::make_shared<FunctionOutputNode>(
      "print", [n, out](int64_t t, const Dataset& parts) {
        std::ostringstream text;
        text << "-------------------------------------------\n"
             << "Time: " << format_batch_time(t) << "\n"
             << "-------------------------------------------\n";
        std::size_t shown = 0;
        bool more = false;
        for (const auto& p : parts) {
          for (const auto& x : p.rows<T>()) {
            if (shown == n) { more = true; break; }
            format_into(text, x);
            text << '\n';
            ++shown;
          }
          if (more) break;
        }
        if (more) text << "...\n";
        text << '\n';
        write_print_output(out, text.str());
      });
  // Each partition needs to send at most n + 1 records: enough to know
  // whether there are more than n.
  detail::add_edge(*this, *node, detail::collect_edge(*this, n + 1));
  detail::inherit_slide(*this, *node);
  job_->add_output(node);
}

// Calls f(records, batch_time_ms) once per batch, in batch order, with all
// records of the batch in partition order.
template <class T>
template <class F>
void DStream<T>::foreachRDD(F f) const {
  auto node = std::make_shared<FunctionOutputNode>(
      "foreachRDD", [f](int64_t t, const Dataset& parts) {
        if (parts.size() == 1) return f(parts[0].rows<T>(), t);  // no copy
        std::size_t total = 0;
        for (const auto& p : parts) total += p.rows<T>().size();
        std::vector<T> rows;
        rows.reserve(total);
        for (const auto& p : parts)
          rows.insert(rows.end(), p.rows<T>().begin(), p.rows<T>().end());
        f(rows, t);
      });
  detail::add_edge(*this, *node, detail::collect_edge(*this));
  detail::inherit_slide(*this, *node);
  job_->add_output(node);
}

// Writes every batch as the directory prefix-<batch time ms>[.suffix] with
// one part file per partition, one record per line (io/text_file_sink.hpp).
template <class T>
void DStream<T>::saveAsTextFiles(const std::string& prefix, const std::string& suffix) const {
  if (prefix.empty()) throw std::invalid_argument("saveAsTextFiles: empty prefix");
  auto node = std::make_shared<FunctionOutputNode>(
      "saveAsTextFiles", [prefix, suffix](int64_t t, const Dataset&) {
        commit_batch_output(prefix, suffix, t);
      });
  auto pipe = pipe_;
  detail::add_edge(*this, *node, [pipe, prefix, suffix](const Partition& in, const TaskContext& ctx) {
    std::ostringstream text;
    for_each_record<T>(pipe, in, ctx, [&](const T& x) {
      format_into(text, x);
      text << '\n';
    });
    write_batch_part(prefix, suffix, ctx.batch_time_ms, ctx.partition, text.str());
    return std::vector<Partition>{Partition{}};
  });
  detail::inherit_slide(*this, *node);
  job_->add_output(node);
}

}  // namespace trib
