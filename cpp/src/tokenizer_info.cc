#include "formgate/tokenizer_info.h"

#include <algorithm>
#include <stdexcept>

#include "token_trie.h"
#include "utf8.h"

namespace formgate {

namespace {

bool IsUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    if (DecodeUtf8(s, &i) < 0) return false;
  }
  return true;
}

}  // namespace

std::string SpecialTokenMarker(int32_t id) {
  std::string m(1, kSpecialMarkerByte);
  m.push_back(static_cast<char>((id >> 16) & 0xFF));
  m.push_back(static_cast<char>((id >> 8) & 0xFF));
  m.push_back(static_cast<char>(id & 0xFF));
  return m;
}

TokenizerInfo::TokenizerInfo(std::vector<std::string> encoded_vocab, int32_t vocab_size,
                             std::vector<int32_t> stop_token_ids,
                             std::vector<int32_t> special_token_ids,
                             std::vector<std::pair<std::string, int32_t>> special_token_names)
    : vocab_(std::move(encoded_vocab)),
      vocab_size_(vocab_size < 0 ? static_cast<int32_t>(vocab_.size()) : vocab_size),
      stop_ids_(std::move(stop_token_ids)),
      special_ids_(std::move(special_token_ids)) {
  if (vocab_size_ < static_cast<int32_t>(vocab_.size())) {
    throw std::invalid_argument("vocab_size " + std::to_string(vocab_size_) +
                                " is smaller than the vocabulary (" +
                                std::to_string(vocab_.size()) + " tokens)");
  }
  auto check = [&](int32_t id, const std::string& what) {
    if (id < 0 || id >= vocab_size_) {
      throw std::invalid_argument(what + " id " + std::to_string(id) + " is outside [0, " +
                                  std::to_string(vocab_size_) + ")");
    }
  };
  for (int32_t id : special_ids_) check(id, "special token");
  for (int32_t id : stop_ids_) check(id, "stop token");
  std::vector<bool> special(vocab_size_, false), named(vocab_size_, false);
  for (int32_t id : special_ids_) special[id] = true;
  for (auto& [name, id] : special_token_names) {
    check(id, "special token '" + name + "'");
    if (name.empty()) throw std::invalid_argument("special token names must not be empty");
    names_.emplace(name, id);
    named[id] = true;
    bool is_stop = std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end();
    if (!special[id] && !is_stop) {
      special[id] = true;
      special_ids_.push_back(id);
    }
  }
  kind_.assign(vocab_size_, kNever);
  for (int32_t id = 0; id < vocab_size_; ++id) {
    if (special[id]) kind_[id] = kSpecial;
  }
  for (int32_t id : stop_ids_) kind_[id] = kStop;  // a stop id listed as special stays a stop
  for (int32_t id = 0; id < static_cast<int32_t>(vocab_.size()); ++id) {
    std::string& bytes = vocab_[id];
    if (kind_[id] == kNever) {
      // 0xFF only ever starts a special token's marker.
      if (!bytes.empty() && bytes.find(kSpecialMarkerByte) == std::string::npos) kind_[id] = kText;
      continue;
    }
    if (!bytes.empty() && IsUtf8(bytes) && !named[id]) names_.emplace(bytes, id);
    if (kind_[id] != kSpecial) continue;
    if (id > kMaxMarkerId) {
      kind_[id] = kNever;
      continue;
    }
    shown_[id] = std::move(bytes);
    bytes = SpecialTokenMarker(id);
  }
  // Special ids past the vocabulary (padding) have no bytes at all.
  for (int32_t id = static_cast<int32_t>(vocab_.size()); id < vocab_size_; ++id) {
    if (kind_[id] == kSpecial) kind_[id] = kNever;
  }
  for (auto& [name, id] : names_) {
    auto it = shown_.find(id);
    if (it != shown_.end() && it->second.empty()) it->second = name;
  }
  std::vector<int32_t> text_ids;
  for (int32_t i = 0; i < static_cast<int32_t>(vocab_.size()); ++i) {
    if (IsText(i)) text_ids.push_back(i);
  }
  trie_ = std::make_unique<TokenTrie>(vocab_, std::move(text_ids));
}

TokenizerInfo::~TokenizerInfo() = default;

const std::string& TokenizerInfo::DecodedToken(int32_t id) const {
  static const std::string kEmpty;
  auto it = shown_.find(id);
  if (it != shown_.end()) return it->second;
  return id < static_cast<int32_t>(vocab_.size()) ? vocab_[id] : kEmpty;
}

size_t TokenizerInfo::MemoryBytes() const {
  size_t n = kind_.size() + trie_->MemoryBytes();
  for (const std::string& s : vocab_) n += s.size() + sizeof(std::string);
  for (const auto& [name, id] : names_) n += name.size() + sizeof(std::string) + 2 * sizeof(id);
  for (const auto& [id, s] : shown_) n += s.size() + sizeof(std::string) + sizeof(id);
  return n;
}

}  // namespace formgate
