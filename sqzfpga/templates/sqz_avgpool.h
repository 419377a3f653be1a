// sqzfpga average pooling k x k / s (floor mode, no padding) with exact rounding.
//
// For each output pixel and channel: out = round_half_even(sum * 2^shift / (k*k)), saturated, with
// sum the raw integers of the k x k window and shift = out_frac - in_frac: the integers an ONNX
// AveragePool followed by a QONNX Quant (ROUND) produces, as global_avg computes them for the global
// pool. The schedule and line buffer are the max pool's (stream_windows, LineBuffer); only the
// window's reduction differs. The RTL twin is templates/rtl/sqz_avgpool.sv.
#ifndef SQZ_AVGPOOL_H_
#define SQZ_AVGPOOL_H_

#include "sqz_layers.h"

namespace sqz {

template <class data_T, class res_T, typename CONFIG_T> struct AvgPoolKernel {
    static const unsigned H = CONFIG_T::in_height, W = CONFIG_T::in_width, C = CONFIG_T::n_chan;
    static const unsigned K = CONFIG_T::kernel, S = CONFIG_T::stride;
    LineBuffer<typename data_T::value_type, K, W, C> lb;
    void load(unsigned r, unsigned c, const data_T &px) { lb.load(r, c, px); }
    void emit(unsigned oy, unsigned ox, res_T &o) {
        for (unsigned ch = 0; ch < C; ch++) {
            #pragma HLS UNROLL
            ap_int<CONFIG_T::sum_width> sum = 0;
            for (unsigned ky = 0; ky < K; ky++) {
                for (unsigned kx = 0; kx < K; kx++) {
                    typename data_T::value_type v = lb.buf[(oy * S + ky) % K][ox * S + kx][ch];
                    if (CONFIG_T::in_signed)
                        sum += raw_signed<CONFIG_T::sum_width>(v);
                    else
                        sum += raw_unsigned<CONFIG_T::sum_width>(v);
                }
            }
            o[ch] = exact_average<typename res_T::value_type, CONFIG_T>(sum, K * K);
        }
    }
};

template <class data_T, class res_T, typename CONFIG_T>
void avgpool(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    AvgPoolKernel<data_T, res_T, CONFIG_T> k;
    #pragma HLS ARRAY_PARTITION variable = k.lb.buf complete dim = 3
    stream_windows<data_T, res_T, AvgPoolKernel<data_T, res_T, CONFIG_T>, CONFIG_T::in_height, CONFIG_T::in_width,
                   CONFIG_T::kernel, CONFIG_T::stride, 0, 0, CONFIG_T::out_height, CONFIG_T::out_width>(data, res, k);
}

} // namespace sqz

#endif
