"""Unit constants. GiB for memory people read off `nvidia-smi`/engine logs; GB/s for bandwidth."""

GIB = 1024**3
GB = 1000**3
W_TO_BTU_H = 3.412142  # 1 W = 3.412142 BTU/h (NIST SP 811)
