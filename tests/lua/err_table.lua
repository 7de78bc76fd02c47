print("obj")
error({code = 1})
