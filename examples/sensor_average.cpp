// Average temperature per sensor, built against an installed Tributary
// (find_package(Tributary), see CMakeLists.txt here), with a custom actor
// operator: readings may arrive twice (at-least-once delivery), and a CAF
// actor per partition drops the repeats by reading id, keeping the ids it
// saw as state across batches.
//
//   sensor_average READINGS_FILE [BATCH_LINES]
//
// READINGS_FILE holds lines "id,sensor,centidegrees" (1523 = 15.23 C). They
// are fed to the job BATCH_LINES at a time (default 100), one batch per
// 100 ms; at the end the program prints one line per sensor:
//   <sensor> readings <n> sum <centidegrees> average <celsius>
#include <tributary/dstream/actor_operator.hpp>
#include <tributary/dstream/streaming_context.hpp>
#include <tributary/version.hpp>

#include <cereal/types/set.hpp>

#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

namespace {

// A record type of your own needs Cereal serialization: records travel
// between processes and into checkpoints.
struct Reading {
  std::string id, sensor;
  int64_t centidegrees = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, sensor, centidegrees);
  }
};

Reading parse(const std::string& line) {
  std::istringstream in(line);
  Reading r;
  std::string centi;
  std::getline(in, r.id, ',');
  std::getline(in, r.sensor, ',');
  std::getline(in, centi);
  r.centidegrees = std::stoll(centi);
  return r;
}

// The custom operator: passes each reading on the first time its id is seen.
struct Seen {
  std::set<std::string> ids;
};

caf::behavior dedup(caf::stateful_actor<Seen>* self) {
  return {
      [=](trib::process_atom, int64_t, const std::vector<std::pair<std::string, std::string>>& in) {
        std::vector<std::string> fresh;
        for (const auto& [id, line] : in)
          if (self->state.ids.insert(id).second) fresh.push_back(line);
        return fresh;
      },
      [=](trib::snapshot_atom) {  // for checkpoints
        std::ostringstream out;
        {
          cereal::BinaryOutputArchive archive(out);
          archive(self->state.ids);
        }
        return out.str();
      },
      [=](trib::restore_atom, const std::string& bytes) {
        std::istringstream in(bytes);
        cereal::BinaryInputArchive archive(in);
        archive(self->state.ids);
      },
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: sensor_average READINGS_FILE [BATCH_LINES]\n(Tributary " << trib::version << ")\n";
    return 2;
  }
  std::ifstream file(argv[1]);
  if (!file) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 2;
  }
  std::size_t batch_lines = argc > 2 ? std::stoul(argv[2]) : 100;

  trib::StreamingContext ssc(std::chrono::milliseconds(100));
  auto queue = std::make_shared<trib::BatchQueue<std::string>>();
  std::size_t batches = 0;
  std::vector<std::string> batch;
  for (std::string line; std::getline(file, line);) {
    batch.push_back(line);
    if (batch.size() == batch_lines) {
      queue->push(std::move(batch));
      batch.clear();
      ++batches;
    }
  }
  if (!batch.empty()) {
    queue->push(std::move(batch));
    ++batches;
  }

  using SumCount = std::pair<int64_t, int64_t>;
  std::mutex mutex;
  std::map<std::string, SumCount> totals;  // the state after the latest batch
  ssc.queueStream(queue)
      .map([](const std::string& line) {  // keyed by id: repeats meet one actor
        return std::pair<std::string, std::string>(line.substr(0, line.find(',')), line);
      })
      // What an actor operator receives and returns travels as CAF messages:
      // standard types (strings, numbers, pairs, vectors) need nothing more.
      .actorOperator<std::string>([](caf::actor_system& sys, int) { return sys.spawn(dedup); })
      .map(parse)
      .map([](const Reading& r) { return std::pair<std::string, SumCount>(r.sensor, {r.centidegrees, 1}); })
      .updateStateByKey([](const std::vector<SumCount>& fresh, const std::optional<SumCount>& total) {
        SumCount sum = total.value_or(SumCount{0, 0});
        for (const auto& [s, n] : fresh) sum = {sum.first + s, sum.second + n};
        return std::optional<SumCount>(sum);
      })
      .foreachRDD([&](const std::vector<std::pair<std::string, SumCount>>& rows, int64_t) {
        std::lock_guard<std::mutex> lock(mutex);
        for (const auto& [sensor, sc] : rows) totals[sensor] = sc;
      });
  ssc.start();
  if (!ssc.awaitBatches(batches, std::chrono::minutes(5))) {
    std::cerr << "the job did not finish its " << batches << " batches\n";
    return 1;
  }
  ssc.stop(/*graceful=*/true);
  for (const auto& [sensor, sc] : totals)
    std::cout << sensor << " readings " << sc.second << " sum " << sc.first << " average "
              << static_cast<double>(sc.first) / 100.0 / static_cast<double>(sc.second) << "\n";
  return 0;
}
