#include "token_set.h"

#include <algorithm>

namespace formgate {

TokenSet TokenSet::FromBits(std::vector<uint32_t> bits, int32_t members,
                            const uint32_t* universe_bits, int32_t universe_count) {
  TokenSet set;
  size_t n_words = bits.size();
  size_t outsiders = static_cast<size_t>(universe_count - members);
  auto extract = [&](bool complement) {
    set.ids_.reserve(complement ? outsiders : static_cast<size_t>(members));
    for (size_t w = 0; w < n_words; ++w) {
      uint32_t x = complement ? universe_bits[w] & ~bits[w] : bits[w];
      while (x) {
        set.ids_.push_back(static_cast<int32_t>(w * 32 + __builtin_ctz(x)));
        x &= x - 1;
      }
    }
  };
  if (static_cast<size_t>(members) <= n_words && static_cast<size_t>(members) <= outsiders) {
    set.kind_ = kList;
    extract(false);
  } else if (outsiders <= n_words) {
    set.kind_ = kComplement;
    extract(true);
  } else {
    set.kind_ = kBitset;
    set.bits_ = std::move(bits);
  }
  return set;
}

void TokenSet::OrInto(uint32_t* words, const uint32_t* universe_bits, int32_t n_words) const {
  switch (kind_) {
    case kList:
      for (int32_t id : ids_) SetBit(words, id);
      break;
    case kBitset:
      for (int32_t w = 0; w < n_words; ++w) words[w] |= bits_[w];
      break;
    case kComplement: {
      // Walk the sorted outsiders word by word so no scratch bitset is needed.
      size_t k = 0;
      for (int32_t w = 0; w < n_words; ++w) {
        uint32_t add = universe_bits[w];
        while (k < ids_.size() && (ids_[k] >> 5) == w) add &= ~(1u << (ids_[k++] & 31));
        words[w] |= add;
      }
      break;
    }
  }
}

}  // namespace formgate
