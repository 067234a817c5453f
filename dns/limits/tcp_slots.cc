#include "dns/limits/tcp_slots.h"

#include <algorithm>

#include "dns/limits/mapped_v4.h"

namespace holdfast::dns {

TcpClientKey TcpClientKey::FromV4(const std::array<uint8_t, 4>& address) {
  TcpClientKey k;
  k.family = 4;
  for (const uint8_t b : address) k.prefix = (k.prefix << 8) | b;
  return k;
}

TcpClientKey TcpClientKey::FromV6(const std::array<uint8_t, 16>& address) {
  if (const auto v4 = MappedV4(address)) return FromV4(*v4);
  TcpClientKey k;
  k.family = 6;
  for (size_t i = 0; i < 8; ++i) k.prefix = (k.prefix << 8) | address[i];
  return k;
}

TcpSlots::Verdict TcpSlots::Check(const TcpClientKey& client) const {
  if (options_.max_per_client > 0 && count(client) >= options_.max_per_client) {
    return Verdict::kRefusePerClient;
  }
  if (slots_.size() >= options_.max_connections) return Verdict::kFull;
  return Verdict::kAdmit;
}

TcpSlots::Id TcpSlots::Add(const TcpClientKey& client) {
  const Id id = next_id_++;
  idle_.push_back(id);
  slots_.emplace(id, Slot{client, true, std::prev(idle_.end())});
  ++per_client_[client];
  return id;
}

void TcpSlots::Remove(Id id) {
  auto it = slots_.find(id);
  if (it == slots_.end()) return;
  Slot& slot = it->second;
  (slot.idle ? idle_ : busy_).erase(slot.node);
  auto count = per_client_.find(slot.client);
  if (--count->second == 0) per_client_.erase(count);
  slots_.erase(it);
}

void TcpSlots::SetIdle(Id id) {
  auto it = slots_.find(id);
  if (it == slots_.end() || it->second.idle) return;
  idle_.splice(idle_.end(), busy_, it->second.node);
  it->second.idle = true;
}

void TcpSlots::SetBusy(Id id) {
  auto it = slots_.find(id);
  if (it == slots_.end() || !it->second.idle) return;
  busy_.splice(busy_.end(), idle_, it->second.node);
  it->second.idle = false;
}

std::optional<TcpSlots::Id> TcpSlots::OldestIdle() const {
  if (idle_.empty()) return std::nullopt;
  return idle_.front();
}

size_t TcpSlots::count(const TcpClientKey& client) const {
  auto it = per_client_.find(client);
  return it == per_client_.end() ? 0 : it->second;
}

}  // namespace holdfast::dns
