/* A module as a future corral's ABI version 2 would define it: this corral must refuse it by its
 * symbol alone, without loading it. */
__attribute__((visibility("default"))) const int corral_module_v2 = 2;
