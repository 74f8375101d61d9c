#pragma once
// The options that say which labelled dataset to read and how, declared once for every command that reads
// one (train, eval, data stats): --data and its format, columns and label names.

#include "greentune/core/option_table.hpp"
#include "greentune/data/dataset.hpp"

namespace greentune::data {

const OptionTable<DataSpec>& data_spec_options();

}  // namespace greentune::data
