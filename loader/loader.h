/* loader-wide declarations */
#ifndef SG_LOADER_H
#define SG_LOADER_H
#endif
