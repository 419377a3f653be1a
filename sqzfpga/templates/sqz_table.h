// sqzfpga input table: each image byte -> the input quantizer's integer, per channel.
//
// The DMA carries bytes; the model's input Quant node receives (byte * scale - mean_c) / std_c. Over 256
// bytes that is a table per channel (computed by sqzfpga/frontend/preprocess.py with the reference
// executor's Quant, rounding half to even and saturating), held by the layer's config (CFG::lookup, one
// ROM per channel). One pixel per cycle. The RTL twin is templates/rtl/sqz_table.sv.
#ifndef SQZ_TABLE_H_
#define SQZ_TABLE_H_

#include "sqz_layers.h"

namespace sqz {

template <class data_T, class res_T, typename CFG> void table(hls::stream<data_T> &data, hls::stream<res_T> &res) {
Pixels:
    for (unsigned i = 0; i < CFG::pixels; i++) {
        #pragma HLS PIPELINE II = 1
        data_T px = data.read();
        res_T o;
        for (unsigned c = 0; c < CFG::n_chan; c++) {
            #pragma HLS UNROLL
            ap_uint<8> b = px[c].range(7, 0);
            typename CFG::entry_t e = CFG::lookup(c, b);
            o[c].range(CFG::bits - 1, 0) = e.range(CFG::bits - 1, 0);
        }
        res.write(o);
    }
}

} // namespace sqz

#endif
