struct_page_bytes = 256
