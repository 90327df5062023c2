# `cmake --install build --prefix P`:
#   P/bin/rekall
#   P/share/rekall/models/all-MiniLM-L6-v2/   (the checkout's models/, when set up)
#   P/lib/rekall/vec0.so                      (the checkout's deps/, when set up)
# The binary finds both relative to itself (src/config/resources.h), so the
# prefix can move. Fixed folders rather than GNUInstallDirs' lib/<multiarch>:
# the lookup goes from bin/ to ../lib/rekall and ../share/rekall.
#
# The wheel (scikit-build-core) has the same layout with the environment as
# the prefix: the binary as a script (<venv>/bin/rekall), the model as data
# (<venv>/share/rekall/models/...). vec0.so comes from the PyPI package
# sqlite-vec, a dependency; the model's PyPI package is not one, because it
# depends on sentence-transformers and torch (3 GB that rekall never uses).
if(SKBUILD)
  install(TARGETS rekall RUNTIME DESTINATION "${SKBUILD_SCRIPTS_DIR}")
  set(rekall_data_prefix "${SKBUILD_DATA_DIR}/")
else()
  install(TARGETS rekall RUNTIME DESTINATION bin)
  set(rekall_data_prefix "")
endif()

if(EXISTS "${REKALL_DEFAULT_MODEL_DIR}/model.safetensors")
  install(DIRECTORY "${REKALL_DEFAULT_MODEL_DIR}/" DESTINATION "${rekall_data_prefix}share/rekall/models/all-MiniLM-L6-v2"
          PATTERN ".*" EXCLUDE)
else()
  message(WARNING "rekall: no model in ${REKALL_DEFAULT_MODEL_DIR} (run scripts/setup.sh first): the installed "
                  "rekall will have none, and will say the one command that gets it")
endif()
if(NOT SKBUILD)
  if(EXISTS "${REKALL_DEFAULT_SQLITE_VEC}")
    install(FILES "${REKALL_DEFAULT_SQLITE_VEC}" DESTINATION lib/rekall
            PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  else()
    message(STATUS "rekall: no sqlite-vec at ${REKALL_DEFAULT_SQLITE_VEC}: `cmake --install` will not ship it "
                   "(the brute-force index takes over)")
  endif()
endif()
