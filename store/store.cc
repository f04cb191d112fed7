#include "store/store.h"

#include <future>

#include "store/store_impl.h"

namespace tidemq::store {

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options,
                                           std::vector<Observer*> observers) {
  return StoreImpl::Open(options, std::move(observers));
}

Result<std::vector<AppendResult>> Store::AppendAndWait(std::vector<Record> records) {
  std::promise<Result<std::vector<AppendResult>>> done;
  auto result = done.get_future();
  Append(std::move(records), [&done](const Status& st, std::vector<AppendResult> results) {
    if (st.ok()) {
      done.set_value(std::move(results));
    } else {
      done.set_value(st);
    }
  });
  return result.get();
}

Status Store::AppendMetaAndWait(MetaChange change) {
  std::promise<Status> done;
  auto result = done.get_future();
  AppendMeta(std::move(change), [&done](const Status& st) { done.set_value(st); });
  return result.get();
}

}  // namespace tidemq::store
